/*
 * cmd_compress.c - `tract compress`: summarize a stretch of history
 * (include/tract/compress.h). RANGE is FROM..TO (both inclusive, either
 * side may be empty: the root / HEAD) or REV (the root through REV);
 * without RANGE the whole branch. --summary TEXT once per group (manual),
 * --llm (a provider: --provider, TRACT_PROVIDER or the tract's stored
 * setting), --review stores a pending compression and prints its id,
 * --approve ID / --discard ID / --list / --show ID act on stored ones,
 * --records prints the provenance (sources and summaries) of past ones,
 * --dry-run prints the groups (and, with --llm, the drafts).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define C_HASH "\033[33m"
#define MAX_LIST 4096

static void print_short(const struct cli *cli, const char *hash)
{
	printf("%s%.*s%s", cli_c(cli, C_HASH), CLI_SHORT_HASH, hash, cli_reset(cli));
}

static void print_groups(const struct cli *cli, const tract_pending_compression *p)
{
	size_t n = tract_pending_compression_group_count(p);

	for (size_t g = 0; g < n; g++) {
		size_t k = tract_pending_compression_group_size(p, g);
		const char *sm = tract_pending_compression_summary(p, g);

		printf("group %zu (%zu commit%s):", g, k, k == 1 ? "" : "s");
		for (size_t i = 0; i < k; i++) {
			putchar(' ');
			print_short(cli, tract_pending_compression_group_commit(p, g, i));
		}
		putchar('\n');
		if (sm)
			printf("  summary: %s\n", cli_safe(sm));
	}
	printf("original tokens: %lld, estimated: %lld\n",
	       (long long)tract_pending_compression_original_tokens(p),
	       (long long)tract_pending_compression_estimated_tokens(p));
}

static void print_result(const struct cli *cli, const tract_compress_result *r)
{
	printf("Compressed %zu commit%s into %zu summar%s (%zu pinned kept, %zu skipped, %zu "
	       "replayed): %lld -> %lld tokens (ratio %.2f), new head ",
	       r->n_source, r->n_source == 1 ? "" : "s", r->n_summary,
	       r->n_summary == 1 ? "y" : "ies", r->n_preserved, r->n_skipped, r->n_replayed,
	       (long long)r->original_tokens, (long long)r->compressed_tokens,
	       r->compression_ratio);
	print_short(cli, r->new_head);
	printf(".\ncompression %s\n", r->compression_id);
}

/* Resolve a revision into out (a 65-byte buffer); reports errors. */
static int resolve(char *out, tract *t, const char *rev)
{
	if (tract_revision_resolve(out, t, rev) != 0)
		return cli_fail_ref(rev);
	return 0;
}

static int open_llm(tract_llm **llm, tract *t, const char *provider)
{
	char *stored = NULL;
	int rc = 0;

	if (!provider)
		provider = getenv("TRACT_PROVIDER");
	if (provider && !*provider)
		provider = NULL;
	if (!provider) {
		if (tract_llm_setting_get(&stored, t, "provider") != 0)
			return cli_fail_lib();
		provider = stored;
	}
	if (!provider)
		rc =
		    cli_fail("no provider: give --provider NAME (e.g. example), set "
		             "TRACT_PROVIDER, or store one with 'generate --provider NAME --save'");
	else if (tract_llm_open(llm, provider, NULL) != 0)
		rc = cli_fail_lib();
	free(stored);
	return rc;
}

static int pending_cmd(struct cli *cli, char mode, const char *id, int json)
{
	tract_store *store;
	tract *t;
	int rc = CLI_OK;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (mode == 'a') {
		tract_compress_result *r = NULL;

		if (tract_pending_compression_approve(&r, t, id) != 0) {
			rc = cli_fail_lib();
		} else {
			char *doc = NULL;

			cli->stored = 1;
			if (json)
				rc = cli_print_json_result(tract_compress_result_to_json(&doc, r),
				                           &doc);
			else
				print_result(cli, r);
		}
		tract_compress_result_free(r);
	} else if (mode == 'd') {
		if (tract_pending_compression_discard(t, id) != 0) {
			rc = cli_fail_lib();
		} else {
			cli->stored = 1;
			printf("Discarded pending compression %s\n", cli_safe(id));
		}
	} else if (mode == 's') {
		tract_pending_compression *p = NULL;

		if (tract_pending_compression_get(&p, t, id) != 0) {
			rc = cli_fail_lib();
		} else if (json) {
			char *doc = NULL;

			rc =
			    cli_print_json_result(tract_pending_compression_to_json(&doc, p), &doc);
		} else {
			printf("pending compression %s\n", tract_pending_compression_id(p));
			print_groups(cli, p);
		}
		tract_pending_compression_free(p);
	} else if (mode == 'r') {
		tract_compression_record *recs = NULL;
		size_t n = 0;

		if (tract_compression_records(&recs, &n, t) != 0) {
			rc = cli_fail_lib();
		} else if (json) {
			char *doc = NULL;

			rc = cli_print_json_result(tract_compression_records_to_json(&doc, recs, n),
			                           &doc);
		} else {
			for (size_t i = 0; i < n; i++) {
				char when[TRACT_TIME_BUFSIZE];

				tract_time_format(when, sizeof(when), recs[i].created_at);
				printf(
				    "compression %s  %s  branch %s: %zu source%s -> %zu summar%s, "
				    "%lld -> %lld tokens\n",
				    recs[i].compression_id, when,
				    recs[i].branch_name ? cli_safe(recs[i].branch_name) : "-",
				    recs[i].n_sources, recs[i].n_sources == 1 ? "" : "s",
				    recs[i].n_results, recs[i].n_results == 1 ? "y" : "ies",
				    (long long)recs[i].original_tokens,
				    (long long)recs[i].compressed_tokens);
				for (size_t k = 0; k < recs[i].n_sources; k++) {
					printf("  source  ");
					print_short(cli, recs[i].sources[k]);
					putchar('\n');
				}
				for (size_t k = 0; k < recs[i].n_results; k++) {
					printf("  summary ");
					print_short(cli, recs[i].results[k]);
					putchar('\n');
				}
			}
		}
		tract_compression_records_free(recs, n);
	} else {
		char **ids = NULL;
		size_t n = 0;

		if (tract_pending_compression_ids(&ids, &n, t) != 0) {
			rc = cli_fail_lib();
		} else if (json) {
			printf("[");
			for (size_t i = 0; i < n; i++)
				printf("%s\"%s\"", i ? ", " : "", ids[i]);
			printf("]\n");
		} else {
			for (size_t i = 0; i < n; i++)
				printf("%s\n", ids[i]);
		}
		tract_pending_compression_ids_free(ids, n);
	}
	cli_close(store, t);
	return rc;
}

int cmd_compress(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"summary", required_argument, NULL, 's'},
	    {"llm", no_argument, NULL, 'L'},
	    {"provider", required_argument, NULL, 'P'},
	    {"target-tokens", required_argument, NULL, 'T'},
	    {"preserve", required_argument, NULL, 'p'},
	    {"instructions", required_argument, NULL, 'I'},
	    {"review", no_argument, NULL, 'R'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"approve", required_argument, NULL, 'a'},
	    {"discard", required_argument, NULL, 'd'},
	    {"show", required_argument, NULL, 'S'},
	    {"list", no_argument, NULL, 'l'},
	    {"records", no_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_compress_options o = TRACT_COMPRESS_OPTIONS_INIT;
	const char *summaries[MAX_LIST], *preserve_refs[MAX_LIST], *provider = NULL;
	char(*preserve)[TRACT_HASH_HEXSIZE + 1] = NULL;
	const char **preserve_ptrs = NULL;
	char from[TRACT_HASH_HEXSIZE + 1], to[TRACT_HASH_HEXSIZE + 1];
	const char *pending_id = NULL, *range = NULL;
	size_t n_summaries = 0, n_preserve = 0;
	int c, rc = CLI_OK, use_llm = 0, json = 0;
	char mode = 0;
	tract_compress_result *r = NULL;
	tract_pending_compression *p = NULL;
	tract_llm *llm = NULL;
	tract_store *store = NULL;
	tract *t = NULL;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":s:p:nh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (n_summaries == MAX_LIST)
				return cli_usage(cli, "too many --summary options");
			if (cli_check_text(optarg, strlen(optarg), "--summary"))
				return CLI_FAIL;
			summaries[n_summaries++] = optarg;
			break;
		case 'L':
			use_llm = 1;
			break;
		case 'P':
			if (!*optarg || cli_check_text(optarg, strlen(optarg), "--provider"))
				return *optarg ? CLI_FAIL
				               : cli_usage(cli, "--provider must not be empty");
			provider = optarg;
			use_llm = 1;
			break;
		case 'T':
			if (cli_parse_int(&o.target_tokens, optarg, 1) != 0)
				return cli_usage(
				    cli, "invalid --target-tokens '%s' (an integer >= 1)", optarg);
			break;
		case 'p':
			if (n_preserve == MAX_LIST)
				return cli_usage(cli, "too many --preserve options");
			if (!*optarg)
				return cli_usage(cli, "--preserve REF must not be empty");
			if (cli_check_text(optarg, strlen(optarg), "--preserve"))
				return CLI_FAIL;
			preserve_refs[n_preserve++] = optarg;
			break;
		case 'I':
			if (cli_check_text(optarg, strlen(optarg), "--instructions"))
				return CLI_FAIL;
			o.instructions = optarg;
			break;
		case 'R':
			o.review = 1;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case 'a':
		case 'd':
		case 'S':
		case 'l':
		case 'r':
			if (mode)
				return cli_usage(cli, "--approve, --discard, --show, --list and "
				                      "--records are exclusive");
			mode = c == 'S' ? 's' : (char)c;
			pending_id = optarg;
			if (pending_id && cli_check_text(optarg, strlen(optarg), "ID"))
				return CLI_FAIL;
			break;
		case 'J':
			json = 1;
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (optind < argc)
		range = argv[optind++];
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if (mode) {
		if (range || n_summaries || use_llm || n_preserve || o.review || o.dry_run ||
		    o.instructions || o.target_tokens > 0)
			return cli_usage(cli, "--approve, --discard, --show, --list and --records "
			                      "take no other option than --json");
		return pending_cmd(cli, mode, pending_id, json);
	}
	if (n_summaries && use_llm)
		return cli_usage(cli, "--summary and --llm are exclusive");
	if (!n_summaries && !use_llm && !o.dry_run)
		return cli_usage(cli, "give --summary TEXT (one per group) or --llm");
	if (o.review && o.dry_run)
		return cli_usage(cli, "--review and --dry-run are exclusive");
	if (range && (!*range || cli_check_text(range, strlen(range), "RANGE")))
		return *range ? CLI_FAIL : cli_usage(cli, "RANGE must not be empty");

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (range) {
		const char *dots = strstr(range, "..");

		if (dots) {
			char *left = strndup(range, (size_t)(dots - range));
			const char *right = dots + 2;

			if (!left) {
				rc = cli_fail("out of memory");
				goto done;
			}
			if (*left && resolve(from, t, left)) {
				free(left);
				rc = CLI_FAIL;
				goto done;
			}
			if (*left)
				o.from_commit = from;
			free(left);
			if (*right && resolve(to, t, right)) {
				rc = CLI_FAIL;
				goto done;
			}
			if (*right)
				o.to_commit = to;
		} else {
			if (resolve(to, t, range)) {
				rc = CLI_FAIL;
				goto done;
			}
			o.to_commit = to;
		}
	}
	if (n_preserve) {
		preserve = calloc(n_preserve, sizeof(*preserve));
		preserve_ptrs = calloc(n_preserve, sizeof(*preserve_ptrs));
		if (!preserve || !preserve_ptrs) {
			rc = cli_fail("out of memory");
			goto done;
		}
		for (size_t i = 0; i < n_preserve; i++) {
			if (resolve(preserve[i], t, preserve_refs[i])) {
				rc = CLI_FAIL;
				goto done;
			}
			preserve_ptrs[i] = preserve[i];
		}
		o.preserve = preserve_ptrs;
		o.n_preserve = n_preserve;
	}
	if (use_llm && (rc = open_llm(&llm, t, provider)) != 0)
		goto done;
	o.llm = llm;
	o.summaries = summaries;
	o.n_summaries = n_summaries;
	if (tract_compress(&r, &p, t, &o) != 0) {
		rc = cli_fail_lib();
		goto done;
	}
	if (p) {
		cli->stored = o.review;
		if (json) {
			char *doc = NULL;

			rc =
			    cli_print_json_result(tract_pending_compression_to_json(&doc, p), &doc);
		} else {
			if (o.review)
				printf("%s\n", tract_pending_compression_id(p));
			print_groups(cli, p);
			if (o.review)
				printf("approve with: tract compress --approve %s\n",
				       tract_pending_compression_id(p));
		}
	} else {
		cli->stored = 1;
		if (json) {
			char *doc = NULL;

			rc = cli_print_json_result(tract_compress_result_to_json(&doc, r), &doc);
		} else {
			print_result(cli, r);
		}
	}
done:
	tract_compress_result_free(r);
	tract_pending_compression_free(p);
	tract_llm_free(llm);
	free(preserve);
	free(preserve_ptrs);
	cli_close(store, t);
	return rc;
}
