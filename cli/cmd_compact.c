/*
 * cmd_compact.c - `tract compact-tools` (old tool output replaced by
 * stubs) and `tract budget` (the persisted token budget).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_compact_tools(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"keep-turns", required_argument, NULL, 'k'},
	    {"min-bytes", required_argument, NULL, 'm'},
	    {"max-bytes", required_argument, NULL, 'M'},
	    {"drop-failed", no_argument, NULL, 'f'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_compact_options o = TRACT_COMPACT_OPTIONS_INIT;
	tract_compact_result *res = NULL;
	tract_store *store;
	tract *t;
	int64_t v;
	int c, json = 0, rc;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":hn", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (cli_parse_int(&v, optarg, 0) != 0 || v > 1000000000)
				return cli_usage(cli, "--keep-turns needs a number of turns >= 0, not '%s'",
						 optarg);
			o.keep_last_turns = (unsigned int)v;
			break;
		case 'm':
			if (cli_parse_int(&v, optarg, 0) != 0)
				return cli_usage(cli, "--min-bytes needs a number of bytes >= 0, not '%s'",
						 optarg);
			o.min_bytes = (size_t)v;
			break;
		case 'M':
			if (cli_parse_int(&v, optarg, 1) != 0)
				return cli_usage(cli, "--max-bytes needs a number of bytes >= 1, not '%s'",
						 optarg);
			o.max_bytes = (size_t)v;
			break;
		case 'f':
			o.drop_failed = 1;
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

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_compact_tools(&res, t, &o) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	if (!o.dry_run && res->n_targets)
		cli->stored = 1;
	if (json) {
		char *doc = NULL;
		rc = cli_print_json_result(tract_compact_result_to_json(&doc, res, o.dry_run), &doc);
	} else {
		size_t i;
		for (i = 0; o.dry_run && i < res->n_targets; i++)
			printf("would compact %.*s\n", CLI_SHORT_HASH, res->targets[i]);
		printf("%s %zu tool result(s), dropped %zu failed call/result commit(s): "
		       "%lld -> %lld tokens\n",
		       o.dry_run ? "Would compact" : "Compacted", res->compacted, res->dropped,
		       (long long)res->tokens_before, (long long)res->tokens_after);
		rc = CLI_OK;
	}
	tract_compact_result_free(res);
	cli_close(store, t);
	return rc;
}

int cmd_budget(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"off", no_argument, NULL, 'o'},
	    {"auto-compact", no_argument, NULL, 'a'},
	    {"no-auto-compact", no_argument, NULL, 'A'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_status *st = NULL;
	tract_store *store;
	tract *t;
	int64_t max = -1;
	int c, json = 0, off = 0, set = 0, policy = -1, rc = CLI_OK;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			off = 1;
			break;
		case 'a':
		case 'A':
			if (policy >= 0 && policy != (c == 'a'))
				return cli_usage(cli, "give either --auto-compact or --no-auto-compact");
			policy = c == 'a';
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
	if (optind < argc) {
		if (off)
			return cli_usage(cli, "give either N or --off, not both");
		if (cli_parse_int(&max, argv[optind], 0) != 0)
			return cli_usage(cli, "the budget needs a number of tokens >= 0, not '%s'",
					 argv[optind]);
		set = 1;
		optind++;
	}
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if ((set || off) && tract_budget_set(t, off ? -1 : max, TRACT_BUDGET_WARN, NULL, NULL, 1) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	if (policy >= 0 &&
	    tract_budget_policy_set(t, policy ? TRACT_BUDGET_POLICY_AUTO_COMPACT
					      : TRACT_BUDGET_POLICY_NONE, 1) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	if (set || off || policy >= 0)
		cli->stored = 1;
	if (tract_status_get(&st, t) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	policy = tract_budget_policy_get(t) == TRACT_BUDGET_POLICY_AUTO_COMPACT;
	if (json) {
		if (st->max_tokens >= 0)
			printf("{\"max_tokens\": %lld, \"token_count\": %lld, \"auto_compact\": %s}\n",
			       (long long)st->max_tokens, (long long)st->token_count,
			       policy ? "true" : "false");
		else
			printf("{\"max_tokens\": null, \"token_count\": %lld, \"auto_compact\": %s}\n",
			       (long long)st->token_count, policy ? "true" : "false");
	} else if (st->max_tokens >= 0) {
		printf("Token budget: %lld (%lld used)%s\n", (long long)st->max_tokens,
		       (long long)st->token_count, policy ? ", auto-compact" : "");
	} else {
		printf("No token budget set (%lld used)%s\n", (long long)st->token_count,
		       policy ? ", auto-compact" : "");
	}
	tract_status_free(st);
	cli_close(store, t);
	return rc;
}
