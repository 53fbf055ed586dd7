/*
 * cmd_gc.c - `tract gc`: remove the commits no ref reaches, once they are
 * old enough (tract_gc; include/tract/gc.h has the rules).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_gc(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"retention-days", required_argument, NULL, 'r'},
	    {"archive-retention-days", required_argument, NULL, 'a'},
	    {"branch", required_argument, NULL, 'b'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_gc_options o = TRACT_GC_OPTIONS_INIT;
	tract_gc_result *res = NULL;
	tract_store *store;
	tract *t;
	int64_t days;
	int c, json = 0, rc;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":hn", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (cli_parse_int(&days, optarg, 0) != 0)
				return cli_usage(cli, "--retention-days needs a number of days >= 0, "
						      "not '%s'",
						 optarg);
			o.orphan_retention_days = (double)days;
			break;
		case 'a':
			if (cli_parse_int(&days, optarg, 0) != 0)
				return cli_usage(cli,
						 "--archive-retention-days needs a number of days "
						 ">= 0, not '%s'",
						 optarg);
			o.archive_retention_days = (double)days;
			break;
		case 'b':
			o.branch = optarg;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if (o.branch && cli_check_text(o.branch, strlen(o.branch), "--branch"))
		return CLI_FAIL;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_gc(&res, t, &o) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	if (!o.dry_run && res->commits_removed)
		cli->stored = 1;
	if (json) {
		char *doc = NULL;
		rc = cli_print_json_result(tract_gc_result_to_json(&doc, res), &doc);
	} else {
		size_t i;

		for (i = 0; o.dry_run && i < res->commits_removed; i++)
			printf("would remove %.*s\n", CLI_SHORT_HASH, res->removed[i]);
		printf("%s %zu commit(s) (%zu archived), %lld token(s)%s", 
		       o.dry_run ? "Would remove" : "Removed", res->commits_removed,
		       res->archives_removed, (long long)res->tokens_freed,
		       o.dry_run ? "" : ",");
		if (!o.dry_run)
			printf(" %zu blob(s)", res->blobs_removed);
		printf("\n");
		rc = CLI_OK;
	}
	tract_gc_result_free(res);
	cli_close(store, t);
	return rc;
}
