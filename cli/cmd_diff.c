/*
 * cmd_diff.c - `tract diff [--stat] [--json] [A [B]]`: the compiled
 * contexts of two revisions compared (spec/history.md §11, §12.4 with
 * DECISIONS.md): no argument = HEAD against its parent, one = A against
 * HEAD, two = A against B.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define C_GREEN "\033[32m"
#define C_RED "\033[31m"
#define C_CYAN "\033[36m"
#define C_BOLD "\033[1m"
#define C_YELLOW "\033[33m"

/* One unified diff line, made safe for a terminal (U+0000 included). */
static void print_line(const struct cli *cli, const char *line, size_t len)
{
	const char *colour = NULL;
	char *safe = NULL;

	if (len && (line[0] == '+' || line[0] == '-'))
		colour = strncmp(line, "+++ ", 4) == 0 || strncmp(line, "--- ", 4) == 0
		             ? C_BOLD
		         : line[0] == '+' ? C_GREEN
		                          : C_RED;
	else if (len >= 2 && line[0] == '@' && line[1] == '@')
		colour = C_CYAN;
	if (tract_text_sanitize(&safe, line, len, TRACT_SANITIZE_KEEP_NEWLINES) != 0) {
		tract_error_clear();
		safe = NULL;
	}
	printf("%s%s%s\n", colour ? cli_c(cli, colour) : "", safe ? safe : "",
	       colour ? cli_reset(cli) : "");
	tract_string_free(safe);
}

static void print_summary(const tract_diff_result *r)
{
	const tract_diff_stat *s = &r->stat;

	printf("+%zu added  -%zu removed  ~%zu modified  =%zu unchanged\n", s->added, s->removed,
	       s->modified, s->unchanged);
	if (s->total_token_delta)
		printf("Token delta: %+lld\n", (long long)s->total_token_delta);
	if (r->config_change_count) {
		printf("\nConfig changes:\n");
		for (size_t i = 0; i < r->config_change_count; i++) {
			const tract_diff_config_change *c = &r->config_changes[i];
			printf("  %s: %s -> %s\n", cli_safe(c->key), cli_safe(c->old_json),
			       cli_safe(c->new_json));
		}
	}
}

static void print_full(const struct cli *cli, const tract_diff_result *r)
{
	printf("%sdiff %.8s %.8s%s\n\n", cli_c(cli, C_BOLD), r->commit_a, r->commit_b,
	       cli_reset(cli));
	for (size_t i = 0; i < r->count; i++) {
		const tract_diff_entry *e = &r->entries[i];
		switch (e->status) {
		case TRACT_DIFF_UNCHANGED:
			continue;
		case TRACT_DIFF_ADDED:
			printf("%s+++ message [%zu] role=%s%s\n", cli_c(cli, C_GREEN), e->index,
			       cli_safe(e->role_b), cli_reset(cli));
			break;
		case TRACT_DIFF_REMOVED:
			printf("%s--- message [%zu] role=%s%s\n", cli_c(cli, C_RED), e->index,
			       cli_safe(e->role_a), cli_reset(cli));
			break;
		case TRACT_DIFF_MODIFIED:
			printf("%s~~~ message [%zu] role=%s -> %s%s\n", cli_c(cli, C_YELLOW),
			       e->index, cli_safe(e->role_a), cli_safe(e->role_b), cli_reset(cli));
			for (size_t l = 0; l < e->line_count; l++)
				print_line(cli, e->lines[l], e->line_lens[l]);
			break;
		}
		cli_safe_release();
	}
	putchar('\n');
	print_summary(r);
}

int cmd_diff(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"stat", no_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"unified", required_argument, NULL, 'U'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_diff_options dopts = TRACT_DIFF_OPTIONS_INIT;
	tract_diff_result *res = NULL;
	const char *a = NULL, *b = NULL;
	int stat = 0, json = 0, c, rc = CLI_OK;
	int64_t context;
	tract_store *store;
	tract *t;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":U:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			stat = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'U':
			if (cli_parse_int(&context, optarg, 0) || context > 1000000)
				return cli_usage(cli, "invalid context '%s' (an integer >= 0)",
				                 optarg);
			dopts.context_lines = (unsigned int)context;
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (optind < argc)
		a = argv[optind++];
	if (optind < argc)
		b = argv[optind++];
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if (a && cli_check_text(a, strlen(a), "A"))
		return CLI_FAIL;
	if (b && cli_check_text(b, strlen(b), "B"))
		return CLI_FAIL;
	dopts.no_lines = stat;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_diff(&res, t, a, b, &dopts) != 0) {
		rc = cli_fail_ref(a && strlen(a) < 4 ? a : b);
	} else if (json) {
		char *doc = NULL;
		rc = cli_print_json_result(tract_diff_result_to_json(&doc, res), &doc);
	} else if (stat) {
		print_summary(res);
	} else {
		print_full(cli, res);
	}
	tract_diff_result_free(res);
	cli_close(store, t);
	return rc;
}
