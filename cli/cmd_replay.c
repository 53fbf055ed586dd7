/*
 * cmd_replay.c - the commands that copy commits onto the current branch:
 * cherry-pick and rebase (include/tract/rebase.h). The library checks
 * everything and writes each operation in one transaction; an issue the
 * command cannot decide (it has no resolver) fails it with exit 1 and a
 * list of the issues on standard error (for a rebase, from a check-only
 * run: the error message may be cut, the list is whole). With --llm the
 * LLM resolver (llm_resolver.h) decides them.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define C_HASH "\033[33m"
#define C_GREEN "\033[32m"

/* A short hash, coloured. */
static void print_short(const struct cli *cli, const char *hash)
{
	printf("%s%.*s%s", cli_c(cli, C_HASH), CLI_SHORT_HASH, hash, cli_reset(cli));
}

static void print_preview(const tract_commit *c)
{
	char *line = NULL;

	if (tract_commit_preview(&line, c, 60) == 0)
		printf(" %s", cli_safe(line));
	else
		tract_error_clear();
	tract_string_free(line);
	putchar('\n');
}

/* "tract: HEAD" and "  - ITEM" per item on stderr, sanitized, in one write. */
static int fail_list(const char *head, const char *const *items, size_t n)
{
	size_t len = 0, cap = 256 + strlen(head) * 2;
	char *buf = malloc(cap), *safe = NULL;

	if (!buf)
		return cli_fail("%s", head);
	len += (size_t)snprintf(buf, cap, "tract: %s\n", cli_safe(head));
	for (size_t i = 0; i < n; i++) {
		if (tract_text_sanitize(&safe, items[i], strlen(items[i]), 0) != 0) {
			tract_error_clear();
			continue;
		}
		if (len + strlen(safe) + 8 >= cap) {
			size_t ncap = cap * 2 + strlen(safe) + 8;
			char *grown = realloc(buf, ncap);

			if (!grown) {
				tract_string_free(safe);
				break;
			}
			buf = grown;
			cap = ncap;
		}
		len += (size_t)snprintf(buf + len, cap - len, "  - %s\n", safe);
		tract_string_free(safe);
	}
	fflush(stderr);
	fputs(buf, stderr);
	fflush(stderr);
	free(buf);
	return CLI_FAIL;
}

/*
 * A pick's unresolved issue (TRACT_ECONFLICT): the library's message is
 * "Cherry-pick has <n> issue(s): <d1>; <d2>..." (descriptions of its own
 * making, which never hold "; "): the head, then one issue per line.
 */
static int fail_pick(const char *ref)
{
	const tract_error *e = tract_error_last();
	const char *colon = strstr(e->message, "): ");
	const char *items[64];
	char *copy, *item, *next;
	size_t n = 0;
	int rc;

	if (e->code != TRACT_ECONFLICT || !colon)
		return cli_fail_ref(ref);
	copy = strdup(e->message);
	if (!copy)
		return cli_fail_lib();
	copy[colon - e->message + 2] = '\0';
	for (item = copy + (colon - e->message) + 3; item && n < 64; item = next) {
		next = strstr(item, "; ");
		if (next) {
			*next = '\0';
			next += 2;
		}
		items[n++] = item;
	}
	rc = fail_list(copy, items, n);
	free(copy);
	return rc;
}

/*
 * A rebase's unresolved warnings (TRACT_ECONFLICT): the message lists
 * them but may be cut, so a check-only rebase lists them all; the head,
 * then one warning per line.
 */
static int fail_rebase(tract *t, const char *onto)
{
	tract_rebase_options o = TRACT_REBASE_OPTIONS_INIT;
	tract_rebase_result *r = NULL;
	const char **items;
	char head[128], *saved;
	int rc;

	if (tract_error_last()->code != TRACT_ECONFLICT)
		return cli_fail_ref(onto);
	saved = strdup(tract_error_last()->message);
	if (!saved)
		return cli_fail_lib();
	o.flags = TRACT_REBASE_CHECK_ONLY;
	if (tract_rebase(&r, t, onto, &o) != 0 || r->warning_count == 0 ||
	    !(items = calloc(r->warning_count, sizeof(*items)))) {
		rc = cli_fail("%s", saved);
	} else {
		for (size_t i = 0; i < r->warning_count; i++)
			items[i] = r->warnings[i].description;
		snprintf(head, sizeof(head), "Rebase has %zu semantic safety warning(s):",
		         r->warning_count);
		rc = fail_list(head, items, r->warning_count);
		free(items);
	}
	tract_rebase_result_free(r);
	free(saved);
	return rc;
}

/*
 * The options of cherry-pick and rebase: --json, and --llm with
 * --provider, --model, -o K=V (llm_resolve.c). 1 with *status set when
 * the command is done (help, a usage error).
 */
static int parse_replay(struct cli *cli, int argc, char **argv, int *json, struct cli_llm *llm,
                        int *status)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"llm", no_argument, NULL, 'L'},
	    {"provider", required_argument, NULL, 'P'},
	    {"model", required_argument, NULL, 'M'},
	    {"option", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = 1;
			break;
		case 'L':
			llm->enabled = 1;
			break;
		case 'P':
			llm->provider = optarg;
			break;
		case 'M':
			llm->model = optarg;
			break;
		case 'o':
			if (cli_llm_add_option(llm, optarg) != 0) {
				*status = cli_usage(cli, "invalid --option (KEY=VALUE expected, at "
				                         "most %d)",
				                    CLI_LLM_MAX_OPTIONS);
				return 1;
			}
			break;
		case 'h':
			*status = cli_help(cli);
			return 1;
		default:
			*status = cli_getopt_error(cli, c, argv);
			return 1;
		}
	}
	if (argc - optind > 1) {
		*status = cli_usage(cli, "unexpected argument '%s'", argv[optind + 1]);
		return 1;
	}
	if (CLI_LLM_STRAY(llm)) {
		*status = cli_usage(cli, "--provider, --model and --option need --llm");
		return 1;
	}
	if (cli_llm_check(llm)) {
		*status = CLI_FAIL;
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* cherry-pick                                                         */

int cmd_cherry_pick(struct cli *cli, int argc, char **argv)
{
	tract_cherry_pick_options po = TRACT_CHERRY_PICK_OPTIONS_INIT;
	tract_cherry_pick_result *r = NULL;
	tract_store *store;
	const char *ref;
	char *branch = NULL, head[TRACT_HASH_HEXSIZE + 1];
	struct cli_llm llm = {0};
	tract *t;
	int json = 0, rc;

	if (parse_replay(cli, argc, argv, &json, &llm, &rc))
		return rc;
	if (optind >= argc)
		return cli_usage(cli, "missing REF");
	ref = argv[optind];
	if (!ref[0])
		return cli_usage(cli, "REF must not be empty");
	if (cli_check_text(ref, strlen(ref), "REF"))
		return CLI_FAIL;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (llm.enabled) {
		if (cli_llm_open(&llm, t) != CLI_OK) {
			cli_llm_close(&llm);
			cli_close(store, t);
			return CLI_FAIL;
		}
		po.resolver = tract_llm_resolver_resolve;
		po.resolver_payload = llm.resolver;
	}
	if (tract_cherry_pick(&r, t, ref, &po) != 0) {
		rc = fail_pick(ref);
		cli_llm_close(&llm);
		cli_close(store, t);
		return rc;
	}
	cli_llm_close(&llm);
	cli->stored = r->new_commit != NULL;
	if (json) {
		char *doc = NULL;

		rc = cli_print_json_result(tract_cherry_pick_result_to_json(&doc, r), &doc);
	} else {
		if (tract_head_get(head, &branch, NULL, t) != 0)
			tract_error_clear();
		printf("[%s ", branch ? cli_safe(branch) : "detached");
		print_short(cli, r->new_head);
		printf("] cherry-picked ");
		print_short(cli, tract_commit_hash(r->original));
		putchar(':');
		print_preview(r->original);
		rc = CLI_OK;
	}
	free(branch);
	tract_cherry_pick_result_free(r);
	cli_close(store, t);
	return rc;
}

/* ------------------------------------------------------------------ */
/* rebase                                                              */

static void rebase_human(const struct cli *cli, tract *t, const tract_rebase_result *r,
                         const char *onto)
{
	char *branch = NULL, head[TRACT_HASH_HEXSIZE + 1];
	const char *name;

	if (tract_head_get(head, &branch, NULL, t) != 0)
		tract_error_clear();
	name = branch ? cli_safe(branch) : "HEAD";
	switch (r->outcome) {
	case TRACT_REBASE_UP_TO_DATE:
		printf("Current branch %s is up to date with %s.\n", name, cli_safe(onto));
		break;
	case TRACT_REBASE_FAST_FORWARD:
		printf("Fast-forwarded %s to %s (", name, cli_safe(onto));
		print_short(cli, r->new_head);
		printf(").\n");
		break;
	case TRACT_REBASE_REPLAYED:
		printf("%sSuccessfully rebased%s %s onto %s (", cli_c(cli, C_GREEN), cli_reset(cli),
		       name, cli_safe(onto));
		print_short(cli, r->onto);
		printf("): %zu commit%s replayed, new head ", r->replayed_commits->count,
		       r->replayed_commits->count == 1 ? "" : "s");
		print_short(cli, r->new_head);
		printf(".\n");
		for (size_t i = 0; i < r->replayed_commits->count; i++) {
			printf("  ");
			print_short(cli, tract_commit_hash(r->original_commits->items[i]));
			printf(" -> ");
			print_short(cli, tract_commit_hash(r->replayed_commits->items[i]));
			print_preview(r->original_commits->items[i]);
		}
		break;
	}
	free(branch);
}

int cmd_rebase(struct cli *cli, int argc, char **argv)
{
	tract_rebase_options ro = TRACT_REBASE_OPTIONS_INIT;
	tract_rebase_result *r = NULL;
	tract_store *store;
	const char *onto;
	struct cli_llm llm = {0};
	tract *t;
	int json = 0, rc;

	if (parse_replay(cli, argc, argv, &json, &llm, &rc))
		return rc;
	if (optind >= argc)
		return cli_usage(cli, "missing ONTO");
	onto = argv[optind];
	if (!onto[0])
		return cli_usage(cli, "ONTO must not be empty");
	if (cli_check_text(onto, strlen(onto), "ONTO"))
		return CLI_FAIL;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (llm.enabled) {
		if (cli_llm_open(&llm, t) != CLI_OK) {
			cli_llm_close(&llm);
			cli_close(store, t);
			return CLI_FAIL;
		}
		ro.resolver = tract_llm_resolver_resolve;
		ro.resolver_payload = llm.resolver;
	}
	if (tract_rebase(&r, t, onto, &ro) != 0) {
		rc = fail_rebase(t, onto);
		cli_llm_close(&llm);
		cli_close(store, t);
		return rc;
	}
	cli_llm_close(&llm);
	cli->stored = r->outcome != TRACT_REBASE_UP_TO_DATE;
	if (json) {
		char *doc = NULL;

		rc = cli_print_json_result(tract_rebase_result_to_json(&doc, r), &doc);
	} else {
		rebase_human(cli, t, r, onto);
		rc = CLI_OK;
	}
	tract_rebase_result_free(r);
	cli_close(store, t);
	return rc;
}
