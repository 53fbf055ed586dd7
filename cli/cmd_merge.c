/*
 * cmd_merge.c - `tract merge BRANCH [--no-ff] [--strategy ours|theirs]
 * [--json] [--llm [--provider P] [--model M] [-o K=V]]`: merge a branch
 * into the current one (spec/history.md §12.9, CLI.md). Nothing is written until a merge commits, so a merge that
 * stops on conflicts has nothing to abort: it lists them (each with the
 * commit of each side) and exits 1. A strategy resolves every conflict
 * one way and commits; --llm asks the LLM resolver (llm_resolver.h)
 * about each conflict and commits.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *short_hash(char buf[16], const char *h)
{
	if (!h)
		return "(unknown)";
	snprintf(buf, 16, "%.*s", CLI_SHORT_HASH, h);
	return buf;
}

static void print_conflicts(const tract_merge_result *r)
{
	size_t i, n = tract_merge_result_conflict_count(r);
	char t[16], a[16], b[16];

	for (i = 0; i < n; i++) {
		const tract_issue *c = tract_merge_result_conflict(r, i);
		/* cli_safe copies live until released: one line at a time */
		printf("  - %s: target %s (%s: %s, ", tract_issue_kind_name(c->kind),
		       short_hash(t, c->target_hash), cli_safe(c->branch_a),
		       short_hash(a, c->commit_a));
		printf("%s: %s)%s\n", cli_safe(c->branch_b), short_hash(b, c->commit_b),
		       tract_merge_result_resolution(r, c->key) ? " resolved" : "");
		cli_safe_release();
	}
}

static int print_human(const tract_merge_result *r, const char *how)
{
	char h[16];
	size_t n = tract_merge_result_conflict_count(r);

	switch (tract_merge_result_type(r)) {
	case TRACT_MERGE_UP_TO_DATE:
		printf("Already up to date.\n");
		return CLI_OK;
	case TRACT_MERGE_FAST_FORWARD:
		printf("Fast-forward: %s -> %s\n", cli_safe(tract_merge_result_source_branch(r)),
		       short_hash(h, tract_merge_result_commit(r)));
		return CLI_OK;
	case TRACT_MERGE_CLEAN:
		printf("Merged %s into ", cli_safe(tract_merge_result_source_branch(r)));
		printf("%s (merge commit: %s)\n", cli_safe(tract_merge_result_target_branch(r)),
		       short_hash(h, tract_merge_result_commit(r)));
		return CLI_OK;
	case TRACT_MERGE_CONFLICT:
		break;
	}
	if (tract_merge_result_committed(r)) {
		printf("Merged %s into ", cli_safe(tract_merge_result_source_branch(r)));
		printf("%s with %zu conflict(s) resolved by %s (merge commit: %s)\n",
		       cli_safe(tract_merge_result_target_branch(r)), n, how,
		       short_hash(h, tract_merge_result_commit(r)));
		print_conflicts(r);
		return CLI_OK;
	}
	printf("CONFLICT: %zu conflict(s) detected; nothing was written.\n", n);
	print_conflicts(r);
	return CLI_FAIL;
}

int cmd_merge(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"no-ff", no_argument, NULL, 'F'},
	    {"strategy", required_argument, NULL, 'S'},
	    {"json", no_argument, NULL, 'J'},
	    /* the LLM resolver (llm_resolve.c) */
	    {"llm", no_argument, NULL, 'L'},
	    {"provider", required_argument, NULL, 'P'},
	    {"model", required_argument, NULL, 'M'},
	    {"option", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_merge_options mopts = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r = NULL;
	const char *source;
	tract_store *store;
	tract *t;
	struct cli_llm llm = {0};
	char how[64];
	int c, json = 0, rc;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			mopts.no_ff = 1;
			break;
		case 'S':
			if (tract_merge_strategy_parse(&mopts.strategy, optarg) != 0)
				return cli_usage(cli, "--strategy must be ours or theirs, not '%s'",
						 cli_safe(optarg));
			break;
		case 'J':
			json = 1;
			break;
		case 'L':
			llm.enabled = 1;
			break;
		case 'P':
			llm.provider = optarg;
			break;
		case 'M':
			llm.model = optarg;
			break;
		case 'o':
			if (cli_llm_add_option(&llm, optarg) != 0)
				return cli_usage(cli, "invalid --option (KEY=VALUE expected, at "
						      "most %d)",
						 CLI_LLM_MAX_OPTIONS);
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage(cli, "missing BRANCH");
	if (optind + 1 < argc)
		return cli_usage(cli, "unexpected argument '%s'", cli_safe(argv[optind + 1]));
	source = argv[optind];
	if (!source[0])
		return cli_usage(cli, "BRANCH must not be empty");
	if (cli_check_text(source, strlen(source), "BRANCH"))
		return CLI_FAIL;
	if (CLI_LLM_STRAY(&llm))
		return cli_usage(cli, "--provider, --model and --option need --llm");
	if (llm.enabled && mopts.strategy != TRACT_MERGE_STRATEGY_AUTO)
		return cli_usage(cli, "--llm and --strategy are exclusive");
	if (cli_llm_check(&llm))
		return CLI_FAIL;
	/* the command has no review step: a strategy (or the LLM) commits
	 * what it resolved */
	mopts.auto_commit = mopts.strategy != TRACT_MERGE_STRATEGY_AUTO || llm.enabled;
	snprintf(how, sizeof(how), "strategy %s", tract_merge_strategy_name(mopts.strategy));

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (llm.enabled) {
		if (cli_llm_open(&llm, t) != CLI_OK) {
			cli_llm_close(&llm);
			cli_close(store, t);
			return CLI_FAIL;
		}
		mopts.resolver = tract_llm_resolver_resolve;
		mopts.resolver_payload = llm.resolver;
		snprintf(how, sizeof(how), "the LLM resolver");
	}
	if (tract_merge(&r, t, source, &mopts) != 0) {
		rc = cli_fail_lib();
		cli_llm_close(&llm);
		cli_close(store, t);
		return rc;
	}
	if (tract_merge_result_committed(r))
		cli->stored = 1;
	if (json) {
		char *doc = NULL;
		rc = cli_print_json_result(tract_merge_result_to_json(&doc, r), &doc);
		if (rc == CLI_OK && tract_merge_result_type(r) == TRACT_MERGE_CONFLICT &&
		    !tract_merge_result_committed(r))
			rc = CLI_FAIL;
	} else {
		rc = print_human(r, how);
	}
	if (rc == CLI_FAIL && tract_merge_result_type(r) == TRACT_MERGE_CONFLICT &&
	    !tract_merge_result_committed(r))
		cli_fail("merge of '%s' stopped on %zu unresolved conflict(s); nothing was written "
			 "(use --strategy ours, --strategy theirs or --llm, or resolve them "
			 "with the library)",
			 source, tract_merge_result_unresolved_count(r));
	tract_merge_result_free(r);
	cli_llm_close(&llm);
	cli_close(store, t);
	return rc;
}
