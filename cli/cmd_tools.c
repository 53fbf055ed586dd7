/*
 * cmd_tools.c - commands that need no tract: tokens (count a text), fsck
 * (verify a whole store) and plugins (what the loader finds).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* ------------------------------------------------------------------ */
/* tokens                                                              */

int cmd_tokens(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"encoding", required_argument, NULL, 'e'},
	    {"model", required_argument, NULL, 'm'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *encoding = NULL, *model = NULL, *path = "-";
	tract_tokenizer *tok;
	int json = 0, c, rc;
	int64_t n;
	size_t len;
	char *text;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			encoding = optarg;
			break;
		case 'm':
			model = optarg;
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
		path = argv[optind++];
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);

	if (encoding && model)
		return cli_usage(cli, "--encoding and --model exclude each other");
	/* No choice: the default counter (exact o200k_base, or the estimate
	 * after a warning when no table is installed). A named encoding or
	 * model must be counted exactly as asked, or the command fails. */
	if (encoding)
		rc = tract_tokenizer_get(&tok, encoding);
	else if (model)
		rc = tract_tokenizer_for_model(&tok, model);
	else
		rc = tract_tokenizer_default(&tok);
	if (rc < 0)
		return cli_fail_lib();
	if (cli_read_file(&text, &len, path))
		return CLI_FAIL;
	/* Not cli_check_text(): U+0000 is a character, and tiktoken counts a
	 * NUL byte as a token like any other, so only UTF-8 is checked. */
	if (tract_utf8_check(text, len) != 0) {
		cli_fail("%s is not valid UTF-8", strcmp(path, "-") == 0 ? "standard input" : path);
		free(text);
		return CLI_FAIL;
	}
	rc = tract_tokenizer_count(&n, tok, text, len);
	free(text);
	if (rc < 0)
		return cli_fail_lib();
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "token_count", (double)n);
		cJSON_AddStringToObject(o, "token_source", tok->source ? tok->source : "");
		return cli_print_cjson(o);
	}
	printf("%lld\n", (long long)n);
	return CLI_OK;
}

/* ------------------------------------------------------------------ */
/* fsck                                                                */

static const char *severity_name(tract_fsck_severity s)
{
	return s == TRACT_FSCK_WARNING ? "warning" : "error";
}

int cmd_fsck(struct cli *cli, int argc, char **argv)
{
	tract_fsck_report *report = NULL;
	tract_fsck_problem *probs;
	size_t n, nerr, nwarn;
	tract_store *store;
	int json = 0, rc = CLI_OK;

	if (cli_parse_json_only(cli, argc, argv, 0, &json, &rc))
		return rc;

	if (cli_open_store(cli, &store, 0))
		return CLI_FAIL;
	if (tract_fsck_run(&report, store) != 0) {
		rc = cli_fail_lib();
		tract_store_free(store);
		return rc;
	}
	probs = report->problems;
	n = report->count;
	nerr = report->errors;
	nwarn = n - nerr;
	if (json) {
		char *doc = NULL;
		rc = cli_print_json_result(tract_fsck_report_to_json(&doc, report), &doc);
	} else {
		for (size_t i = 0; i < n; i++) {
			int warn = probs[i].severity == TRACT_FSCK_WARNING;
			printf("%s%-7s%s %s: %s\n", cli_c(cli, warn ? "\033[33m" : "\033[31m"),
			       severity_name(probs[i].severity), cli_reset(cli),
			       probs[i].object ? cli_safe(probs[i].object) : "-",
			       cli_safe(probs[i].message));
		}
		if (n == 0)
			printf("No problems found.\n");
		else
			printf("%zu error(s), %zu warning(s)\n", nerr, nwarn);
	}
	tract_fsck_report_free(report);
	tract_store_free(store);
	if (rc == CLI_OK && nerr) {
		char *shown = NULL;
		fflush(stdout);
		if (tract_uri_redact(&shown, cli->db) != 0)
			return cli_fail_lib();
		rc = cli_fail("fsck: %zu error(s) found in %s", nerr, shown);
		tract_string_free(shown);
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* plugins                                                             */

static const char *kind_name(tract_plugin_kind k)
{
	return k == TRACT_PLUGIN_PROVIDER ? "provider" : "backend";
}

int cmd_plugins(struct cli *cli, int argc, char **argv)
{
	tract_plugin_info_list *list = NULL;
	tract_plugin_info *infos;
	size_t n;
	int json = 0, rc = CLI_OK;

	if (cli_parse_json_only(cli, argc, argv, 0, &json, &rc))
		return rc;

	if (tract_plugin_list(&list) != 0)
		return cli_fail_lib();
	infos = list->items;
	n = list->count;
	if (json) {
		char *doc = NULL;
		rc = cli_print_json_result(tract_plugin_info_list_to_json(&doc, list), &doc);
	} else {
		char *search = NULL;
		size_t wname = 4;

		tract_plugin_search_path(&search);
		for (size_t i = 0; i < n; i++)
			if (infos[i].name && strlen(infos[i].name) > wname)
				wname = strlen(infos[i].name);
		if (n == 0)
			printf("No plugins found.\n");
		for (size_t i = 0; i < n; i++) {
			printf("%-8s  %-*s  abi %-3u  %s", kind_name(infos[i].kind), (int)wname,
			       infos[i].name ? cli_safe(infos[i].name) : "?", infos[i].abi_version,
			       infos[i].path ? cli_safe(infos[i].path) : "?");
			if (infos[i].error)
				printf("  %s(unusable: %s)%s", cli_c(cli, "\033[31m"),
				       cli_safe(infos[i].error), cli_reset(cli));
			putchar('\n');
		}
		if (search)
			printf("\nSearch path: %s\n", cli_safe(search));
		tract_string_free(search);
	}
	tract_plugin_info_list_free(list);
	return rc;
}
