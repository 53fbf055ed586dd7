/*
 * cmd_compact.c - `tract compact-tools` (old tool output replaced by
 * stubs) and `tract budget` (the persisted token budget).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
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
	    {"auto-compress", no_argument, NULL, 'C'},
	    {"target-fraction", required_argument, NULL, 'F'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_status *st = NULL;
	tract_store *store;
	tract *t;
	int64_t max = -1;
	double target = 0.0, frac = 0.5;
	int c, json = 0, off = 0, set = 0, policy = -1, rc = CLI_OK;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			off = 1;
			break;
		case 'a':
		case 'A':
		case 'C': {
			int want = c == 'a' ? 1 : c == 'C' ? 2 : 0;
			if (policy >= 0 && policy != want)
				return cli_usage(cli, "give one of --auto-compact, --auto-compress "
						      "and --no-auto-compact");
			policy = want;
			break;
		}
		case 'F': {
			char *end = NULL;
			errno = 0;
			target = strtod(optarg, &end);
			if (!*optarg || isspace((unsigned char)*optarg) || errno || !end || *end ||
			    !(target > 0.0 && target <= 1.0))
				return cli_usage(cli,
						 "--target-fraction needs a fraction of the budget "
						 "in (0, 1], not '%s'",
						 cli_safe(optarg));
			break;
		}
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
	    tract_budget_policy_set(t, policy == 2   ? TRACT_BUDGET_POLICY_AUTO_COMPRESS
				       : policy == 1 ? TRACT_BUDGET_POLICY_AUTO_COMPACT
						     : TRACT_BUDGET_POLICY_NONE, 1) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	if (target > 0.0 && tract_budget_target_set(t, target, 1) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	if (set || off || policy >= 0 || target > 0.0)
		cli->stored = 1;
	if (tract_budget_target_get(&frac, t) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	if (tract_status_get(&st, t) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	policy = tract_budget_policy_get(t);
	{
		/* auto-compress compacts first: both flags are true */
		const char *compact = policy != TRACT_BUDGET_POLICY_NONE ? "true" : "false";
		const char *compress =
		    policy == TRACT_BUDGET_POLICY_AUTO_COMPRESS ? "true" : "false";
		const char *human = policy == TRACT_BUDGET_POLICY_AUTO_COMPRESS ? ", auto-compress"
				    : policy == TRACT_BUDGET_POLICY_AUTO_COMPACT   ? ", auto-compact"
										   : "";
		char max_s[32] = "null";

		if (st->max_tokens >= 0)
			snprintf(max_s, sizeof(max_s), "%lld", (long long)st->max_tokens);
		if (json)
			printf("{\"max_tokens\": %s, \"token_count\": %lld, \"auto_compact\": %s, "
			       "\"auto_compress\": %s, \"target_fraction\": %g}\n",
			       max_s, (long long)st->token_count, compact, compress, frac);
		else if (st->max_tokens >= 0 && policy == TRACT_BUDGET_POLICY_AUTO_COMPRESS)
			printf("Token budget: %lld (%lld used)%s down to %g of it\n",
			       (long long)st->max_tokens, (long long)st->token_count, human, frac);
		else if (st->max_tokens >= 0)
			printf("Token budget: %lld (%lld used)%s\n", (long long)st->max_tokens,
			       (long long)st->token_count, human);
		else
			printf("No token budget set (%lld used)%s\n", (long long)st->token_count,
			       human);
	}
	tract_status_free(st);
	cli_close(store, t);
	return rc;
}
