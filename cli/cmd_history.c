/*
 * cmd_history.c - the navigation commands: reset, checkout, switch,
 * branch and tag (CLI.md; spec/history.md §12.5-12.8 where CLI.md is
 * silent). Arguments are checked before the store is opened; the library
 * validates everything before it writes, so a failing command writes
 * nothing.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define C_HASH "\033[33m"
#define C_GREEN "\033[32m"

/* "abcd1234", coloured. */
static void print_short(const struct cli *cli, const char *hash)
{
	printf("%s%.*s%s", cli_c(cli, C_HASH), CLI_SHORT_HASH, hash, cli_reset(cli));
}

/* Each operand valid UTF-8 without NUL: reported, 1 when one is not. */
static int check_args(char **args, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (cli_check_text(args[i], strlen(args[i]), what))
			return 1;
	return 0;
}

/* Where HEAD is after a move: "HEAD detached at X" or "Switched to
 * branch NAME" followed by fmt's rendering of the hash. */
static int print_position(const struct cli *cli, tract *t, const char *hash, const char *at)
{
	char head[TRACT_HASH_HEXSIZE + 1], *branch = NULL;
	int detached = 0;

	if (tract_head_get(head, &branch, &detached, t) != 0)
		return cli_fail_lib();
	if (!branch) {
		printf("HEAD detached at ");
		print_short(cli, hash);
		printf("\n");
	} else {
		printf("Switched to branch %s%s", cli_safe(branch), at);
		print_short(cli, hash);
		printf("%s\n", at[1] == '(' ? ")" : "");
	}
	tract_string_free(branch);
	return CLI_OK;
}

/* ---- reset ---- */

int cmd_reset(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"soft", no_argument, NULL, 's'},
	    {"hard", no_argument, NULL, 'H'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_reset_mode mode = TRACT_RESET_SOFT;
	char hash[TRACT_HASH_HEXSIZE + 1];
	tract_store *store;
	tract *t;
	int c, rc;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			mode = TRACT_RESET_SOFT;
			break;
		case 'H':
			mode = TRACT_RESET_HARD;
			break;
		case 'f':
			break; /* the reference's CLI wants it for --hard; accepted */
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage(cli, "missing REF");
	if (argc - optind > 1)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind + 1]);
	if (check_args(argv + optind, 1, "REF"))
		return CLI_FAIL;
	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_reset(hash, t, argv[optind], mode) != 0) {
		rc = cli_fail_ref(argv[optind]);
	} else {
		cli->stored = 1;
		printf("HEAD is now at ");
		print_short(cli, hash);
		printf(" (%s reset)\n", tract_reset_mode_name(mode));
		rc = CLI_OK;
	}
	cli_close(store, t);
	return rc;
}

/* ---- checkout ---- */

int cmd_checkout(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char hash[TRACT_HASH_HEXSIZE + 1];
	tract_store *store;
	tract *t;
	int c, rc;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cli);
		return cli_getopt_error(cli, c, argv);
	}
	if (optind >= argc)
		return cli_usage(cli, "missing REF (a branch, a revision or '-')");
	if (argc - optind > 1)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind + 1]);
	if (check_args(argv + optind, 1, "REF"))
		return CLI_FAIL;
	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_checkout(hash, t, argv[optind]) != 0) {
		rc = cli_fail_ref(argv[optind]);
	} else {
		cli->stored = 1;
		rc = print_position(cli, t, hash, " (");
	}
	cli_close(store, t);
	return rc;
}

/* ---- switch ---- */

/* "Branch not found: NAME. Available branches: a, b" (spec §12.7). */
static int fail_no_branch(tract *t, const char *name)
{
	tract_branch_list *list = NULL;
	char *msg = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (tract_error_last()->code != TRACT_ENOTFOUND ||
	    strncmp(tract_error_last()->message, "Branch not found", 16) != 0)
		return cli_fail_lib();
	f = open_memstream(&msg, &len);
	if (!f)
		return cli_fail_lib();
	fprintf(f, "Branch not found: %s", name);
	if (tract_branch_list_get(&list, t) == 0 && list->count > 0) {
		fprintf(f, ". Available branches: ");
		for (size_t i = 0; i < list->count; i++)
			fprintf(f, "%s%s", i ? ", " : "", list->items[i].name);
	}
	tract_branch_list_free(list);
	fclose(f);
	rc = cli_fail("%s", msg ? msg : "Branch not found");
	free(msg);
	return rc;
}

int cmd_switch(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"create", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_switch_options sopts = TRACT_SWITCH_OPTIONS_INIT;
	char hash[TRACT_HASH_HEXSIZE + 1];
	const char *name;
	tract_store *store;
	tract *t;
	int c, rc, nargs;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":ch", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			sopts.create = 1;
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	nargs = argc - optind;
	if (nargs < 1)
		return cli_usage(cli, "missing BRANCH");
	if (nargs > (sopts.create ? 2 : 1))
		return cli_usage(cli, sopts.create ? "unexpected argument '%s'"
		                                   : "unexpected argument '%s' (START needs -c)",
		                 argv[optind + (sopts.create ? 2 : 1)]);
	if (check_args(argv + optind, nargs, nargs == 1 ? "BRANCH" : "BRANCH or START"))
		return CLI_FAIL;
	name = argv[optind];
	if (sopts.create && strcmp(name, "-") == 0)
		return cli_usage(cli, "-c needs a branch name, not '-'");
	if (nargs == 2)
		sopts.start = argv[optind + 1];
	if (sopts.create && tract_branch_name_check(name) != 0)
		return cli_fail_lib();
	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_switch(hash, t, name, &sopts) != 0) {
		rc = sopts.start ? cli_fail_ref(sopts.start) : fail_no_branch(t, name);
	} else {
		cli->stored = 1;
		if (sopts.create) {
			printf("Switched to a new branch %s at ", cli_safe(name));
			print_short(cli, hash);
			printf("\n");
			rc = CLI_OK;
		} else {
			rc = print_position(cli, t, hash, " at ");
		}
	}
	cli_close(store, t);
	return rc;
}

/* ---- branch ---- */

static int list_branches(struct cli *cli, int json)
{
	tract_branch_list *list = NULL;
	tract_store *store;
	tract *t;
	size_t i, width = 0;
	int rc = CLI_OK;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_branch_list_get(&list, t) != 0) {
		rc = cli_fail_lib();
	} else if (json) {
		char *text = NULL;
		rc = cli_print_json_result(tract_branch_list_to_json(&text, list), &text);
	} else if (list->count == 0) {
		printf("No branches.\n");
	} else {
		for (i = 0; i < list->count; i++) {
			size_t w = cli_utf8_width(cli_safe(list->items[i].name));
			if (w > width)
				width = w;
		}
		for (i = 0; i < list->count; i++) {
			const tract_branch *b = &list->items[i];
			const char *name = cli_safe(b->name);
			printf("%s%s%s%s", b->current ? "* " : "  ",
			       b->current ? cli_c(cli, C_GREEN) : "", name,
			       b->current ? cli_reset(cli) : "");
			printf("%*s  ", (int)(width - cli_utf8_width(name)), "");
			print_short(cli, b->tip);
			if (b->ahead > 0 && b->behind > 0)
				printf("  [ahead %lld, behind %lld]", (long long)b->ahead,
				       (long long)b->behind);
			else if (b->ahead > 0)
				printf("  [ahead %lld]", (long long)b->ahead);
			else if (b->behind > 0)
				printf("  [behind %lld]", (long long)b->behind);
			printf("\n");
		}
	}
	tract_branch_list_free(list);
	cli_close(store, t);
	return rc;
}

/* EUNMERGED with the command's own hint (spec §12.8's NOTE). */
static int fail_unmerged(const char *name)
{
	const tract_error *e = tract_error_last();

	if (e->code != TRACT_EUNMERGED)
		return cli_fail_lib();
	return cli_fail("%s; 'tract branch -d --force %s' deletes it anyway", e->message, name);
}

int cmd_branch(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"delete", no_argument, NULL, 'd'},
	    {"move", no_argument, NULL, 'm'},
	    {"force", no_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char hash[TRACT_HASH_HEXSIZE + 1];
	int del = 0, move = 0, force = 0, json = 0, c, rc, nargs;
	char **args;
	tract_store *store;
	tract *t;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":dDmfh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			del = 1;
			break;
		case 'D':
			del = force = 1;
			break;
		case 'm':
			move = 1;
			break;
		case 'f':
			force = 1;
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
	nargs = argc - optind;
	args = argv + optind;
	if (del && move)
		return cli_usage(cli, "-d and -m are exclusive");
	if (json && (del || move || nargs > 0))
		return cli_usage(cli, "--json lists branches: no NAME, -d or -m");
	if (force && !del)
		return cli_usage(cli, "--force goes with -d");
	if (del && nargs != 1)
		return cli_usage(cli, nargs ? "unexpected argument '%s'" : "-d needs NAME",
		                 nargs ? args[1] : "");
	if (move && nargs != 2)
		return cli_usage(cli, nargs > 2 ? "unexpected argument '%s'" : "-m needs OLD NEW",
		                 nargs > 2 ? args[2] : "");
	if (nargs > 2)
		return cli_usage(cli, "unexpected argument '%s'", args[2]);
	if (nargs == 0)
		return list_branches(cli, json);
	if (check_args(args, nargs, nargs == 1 ? "NAME" : "NAME or START"))
		return CLI_FAIL;
	/* The new name is checked before the store is opened. */
	if (!del && tract_branch_name_check(args[move ? 1 : 0]) != 0)
		return cli_fail_lib();
	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (del) {
		rc = tract_branch_delete(hash, t, args[0], force) != 0 ? fail_unmerged(args[0]) : 0;
		if (rc == 0) {
			printf("Deleted branch %s (was ", cli_safe(args[0]));
			print_short(cli, hash);
			printf(")\n");
		}
	} else if (move) {
		rc = tract_branch_rename(t, args[0], args[1]) != 0 ? cli_fail_lib() : 0;
		if (rc == 0)
			printf("Renamed branch %s to %s\n", cli_safe(args[0]), cli_safe(args[1]));
	} else {
		rc = tract_branch_create(hash, t, args[0], nargs > 1 ? args[1] : NULL, 0) != 0
		         ? cli_fail_ref(nargs > 1 ? args[1] : NULL)
		         : 0;
		if (rc == 0) {
			printf("Created branch %s at ", cli_safe(args[0]));
			print_short(cli, hash);
			printf("\n");
		}
	}
	if (rc == 0)
		cli->stored = 1;
	cli_close(store, t);
	return rc;
}

/* ---- tag ---- */

static int list_tags(struct cli *cli, int json)
{
	tract_tag_list *list = NULL;
	tract_store *store;
	tract *t;
	size_t i, width = 0;
	int rc = CLI_OK;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_tag_list_get(&list, t) != 0) {
		rc = cli_fail_lib();
	} else if (json) {
		char *text = NULL;
		rc = cli_print_json_result(tract_tag_list_to_json(&text, list), &text);
	} else if (list->count == 0) {
		printf("No tags.\n");
	} else {
		for (i = 0; i < list->count; i++) {
			size_t w = cli_utf8_width(cli_safe(list->items[i].name));
			if (w > width)
				width = w;
		}
		for (i = 0; i < list->count; i++) {
			const char *name = cli_safe(list->items[i].name);
			printf("%s%*s  ", name, (int)(width - cli_utf8_width(name)), "");
			print_short(cli, list->items[i].target);
			printf("\n");
		}
	}
	tract_tag_list_free(list);
	cli_close(store, t);
	return rc;
}

int cmd_tag(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"delete", no_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char hash[TRACT_HASH_HEXSIZE + 1];
	int del = 0, json = 0, c, rc, nargs;
	char **args;
	tract_store *store;
	tract *t;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":dh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			del = 1;
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
	nargs = argc - optind;
	args = argv + optind;
	if (json && (del || nargs > 0))
		return cli_usage(cli, "--json lists tags: no NAME or -d");
	if (del && nargs != 1)
		return cli_usage(cli, nargs ? "unexpected argument '%s'" : "-d needs NAME",
		                 nargs ? args[1] : "");
	if (nargs > 2)
		return cli_usage(cli, "unexpected argument '%s'", args[2]);
	if (nargs == 0)
		return list_tags(cli, json);
	if (check_args(args, nargs, nargs == 1 ? "NAME" : "NAME or REV"))
		return CLI_FAIL;
	if (!del && tract_tag_name_check(args[0]) != 0)
		return cli_fail_lib();
	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (del) {
		rc = tract_tag_delete(hash, t, args[0]) != 0 ? cli_fail_lib() : 0;
		if (rc == 0) {
			printf("Deleted tag %s (was ", cli_safe(args[0]));
			print_short(cli, hash);
			printf(")\n");
		}
	} else {
		rc = tract_tag_create(hash, t, args[0], nargs > 1 ? args[1] : NULL) != 0
		         ? cli_fail_ref(nargs > 1 ? args[1] : NULL)
		         : 0;
		if (rc == 0) {
			printf("Created tag %s at ", cli_safe(args[0]));
			print_short(cli, hash);
			printf("\n");
		}
	}
	if (rc == 0)
		cli->stored = 1;
	cli_close(store, t);
	return rc;
}
