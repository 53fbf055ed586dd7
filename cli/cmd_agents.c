/*
 * cmd_agents.c - the multi-agent commands: `tract spawn`, `collapse`,
 * `expand`, `resume` and `session` (session-boundary commits). A thin user
 * of include/tract/agents.h.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_LIST 256

/* ---- spawn ---------------------------------------------------------------- */

int cmd_spawn(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"purpose", required_argument, NULL, 'p'},
	    {"inherit", required_argument, NULL, 'i'},
	    {"name", required_argument, NULL, 'n'},
	    {"id", required_argument, NULL, 'I'},
	    {"max-tokens", required_argument, NULL, 'M'},
	    {"commit", required_argument, NULL, 'c'},
	    {"type", required_argument, NULL, 'T'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
	const char *commits[MAX_LIST], *types[MAX_LIST];
	tract_store *store;
	tract *t, *child = NULL;
	int64_t max_tokens;
	int c, json = 0, rc, inherit_given = 0;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.purpose = optarg;
			break;
		case 'i':
			if (tract_inherit_mode_parse(&o.inherit, optarg) != 0)
				return cli_usage(cli,
				                 "--inherit takes head_snapshot, full_clone or "
				                 "selective, not '%s'",
				                 optarg);
			inherit_given = 1;
			break;
		case 'n':
			o.display_name = optarg;
			break;
		case 'I':
			o.child_tract_id = optarg;
			break;
		case 'M':
			if (cli_parse_int(&max_tokens, optarg, 1) != 0)
				return cli_usage(cli, "--max-tokens needs a number >= 1, not '%s'",
				                 optarg);
			o.max_tokens = max_tokens;
			break;
		case 'c':
			if (o.n_commits == MAX_LIST)
				return cli_usage(cli, "at most %d --commit options", MAX_LIST);
			commits[o.n_commits++] = optarg;
			break;
		case 'T':
			if (o.n_content_types == MAX_LIST)
				return cli_usage(cli, "at most %d --type options", MAX_LIST);
			types[o.n_content_types++] = optarg;
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
	if (!o.purpose)
		return cli_usage(cli, "--purpose is required");
	if ((o.n_commits || o.n_content_types) && !inherit_given)
		o.inherit = TRACT_INHERIT_SELECTIVE;
	if ((o.n_commits || o.n_content_types) && o.inherit != TRACT_INHERIT_SELECTIVE)
		return cli_usage(cli, "--commit and --type go with --inherit selective");
	if (o.inherit == TRACT_INHERIT_SELECTIVE && !o.n_commits && !o.n_content_types)
		return cli_usage(cli, "--inherit selective needs --commit REF or --type TYPE");
	if (o.max_tokens >= 0 && o.inherit != TRACT_INHERIT_HEAD_SNAPSHOT)
		return cli_usage(cli, "--max-tokens goes with --inherit head_snapshot");
	if (cli_check_text(o.purpose, strlen(o.purpose), "--purpose") ||
	    (o.display_name && cli_check_text(o.display_name, strlen(o.display_name), "--name")))
		return CLI_FAIL;
	o.commits = commits;
	o.content_types = types;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_spawn(&child, t, &o) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	cli->stored = 1;
	if (json) {
		tract_spawn_info *info = NULL;
		char *doc = NULL;
		if (tract_spawn_info_get(&info, store, tract_id(child)) != 0)
			rc = cli_fail_lib();
		else
			rc = cli_print_json_result(tract_spawn_info_to_json(&doc, info), &doc);
		tract_spawn_info_free(info);
	} else {
		printf("%s\n", tract_id(child));
		rc = CLI_OK;
	}
	tract_free(child);
	cli_close(store, t);
	return rc;
}

/* ---- collapse -------------------------------------------------------------- */

static void collapse_human(const tract_collapse_result *r)
{
	if (r->parent_commit_hash)
		printf("%s\n", r->parent_commit_hash);
	else
		printf("draft %s (approve with 'tract collapse --approve %s', discard with "
		       "--discard)\n%s\n",
		       r->draft_id, r->draft_id, cli_safe_ml(r->summary_text));
	cli_safe_release();
}

static int print_result(const tract_collapse_result *r, int json)
{
	char *doc = NULL;

	if (json)
		return cli_print_json_result(tract_collapse_result_to_json(&doc, r), &doc);
	collapse_human(r);
	return CLI_OK;
}

/* The provider for --llm: --provider, else TRACT_PROVIDER, else the
 * tract's saved one. */
static int open_llm(tract_llm **out, tract *t, const char *provider)
{
	char *stored = NULL;
	int rc;

	if (!provider || !*provider)
		provider = getenv("TRACT_PROVIDER");
	if (!provider || !*provider) {
		if (tract_llm_setting_get(&stored, t, "provider") != 0)
			return cli_fail_lib();
		provider = stored;
	}
	if (!provider) {
		free(stored);
		return cli_fail("no provider: give --provider NAME or set TRACT_PROVIDER");
	}
	rc = tract_llm_open(out, provider, NULL) != 0 ? cli_fail_lib() : CLI_OK;
	tract_string_free(stored);
	return rc;
}

int cmd_collapse(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"summary", required_argument, NULL, 's'},
	    {"llm", no_argument, NULL, 'l'},
	    {"provider", required_argument, NULL, 'P'},
	    {"review", no_argument, NULL, 'r'},
	    {"instructions", required_argument, NULL, 'i'},
	    {"target-tokens", required_argument, NULL, 'T'},
	    {"approve", required_argument, NULL, 'a'},
	    {"discard", required_argument, NULL, 'd'},
	    {"drafts", no_argument, NULL, 'D'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
	tract_collapse_result *r = NULL;
	const char *summary_arg = NULL, *provider = NULL, *approve = NULL, *discard = NULL;
	char *summary = NULL;
	tract_llm *llm = NULL;
	tract_store *store;
	tract *t;
	int64_t n;
	int c, json = 0, rc, use_llm = 0, review = 0, drafts = 0;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			summary_arg = optarg;
			break;
		case 'l':
			use_llm = 1;
			break;
		case 'P':
			provider = optarg;
			use_llm = 1;
			break;
		case 'r':
			review = 1;
			break;
		case 'i':
			o.instructions = optarg;
			break;
		case 'T':
			if (cli_parse_int(&n, optarg, 1) != 0)
				return cli_usage(
				    cli, "--target-tokens needs a number >= 1, not '%s'", optarg);
			o.target_tokens = n;
			break;
		case 'a':
			approve = optarg;
			break;
		case 'd':
			discard = optarg;
			break;
		case 'D':
			drafts = 1;
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
	if ((approve != NULL) + (discard != NULL) + drafts > 1)
		return cli_usage(cli, "--approve, --discard and --drafts exclude each other");
	if (approve || discard || drafts) {
		if (optind < argc)
			return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
		if (use_llm || review || o.instructions || o.target_tokens >= 0 ||
		    (summary_arg && !approve))
			return cli_usage(cli, "only --summary goes with --approve");
	} else {
		if (optind >= argc)
			return cli_usage(cli, "which child? give its tract id");
		if (optind + 1 < argc)
			return cli_usage(cli, "unexpected argument '%s'", argv[optind + 1]);
		if (!summary_arg && !use_llm)
			return cli_usage(cli, "give --summary TEXT or --llm");
		if (summary_arg && use_llm)
			return cli_usage(cli, "--summary and --llm exclude each other");
		if (cli_check_text(argv[optind], strlen(argv[optind]), "child id"))
			return CLI_FAIL;
	}
	if (o.instructions &&
	    cli_check_text(o.instructions, strlen(o.instructions), "--instructions"))
		return CLI_FAIL;
	if (summary_arg) {
		size_t len;
		if (strcmp(summary_arg, "-") == 0) {
			if (cli_read_file(&summary, &len, "-"))
				return CLI_FAIL;
		} else {
			summary = strdup(summary_arg);
			if (!summary)
				return cli_fail("out of memory");
			len = strlen(summary);
		}
		if (cli_check_text(summary, len, "--summary")) {
			free(summary);
			return CLI_FAIL;
		}
	}

	if (cli_open_tract(cli, &store, &t)) {
		free(summary);
		return CLI_FAIL;
	}
	if (drafts) {
		tract_collapse_result **items = NULL;
		size_t count = 0, i;
		if (tract_collapse_draft_list(&items, &count, t) != 0) {
			rc = cli_fail_lib();
		} else if (json) {
			{
				char *all = NULL;
				size_t cap = 3, len = 1; /* "[", "]" and the NUL */
				all = malloc(cap);
				rc = all ? CLI_OK : cli_fail("out of memory");
				if (all)
					all[0] = '[';
				for (i = 0; rc == CLI_OK && i < count; i++) {
					char *doc = NULL;
					size_t dl;
					if (tract_collapse_result_to_json(&doc, items[i]) != 0) {
						rc = cli_fail_lib();
						break;
					}
					dl = strlen(doc);
					if (len + dl + 3 > cap) {
						char *p = realloc(all, cap = (len + dl + 3) * 2);
						if (!p) {
							tract_string_free(doc);
							rc = cli_fail("out of memory");
							break;
						}
						all = p;
					}
					if (i)
						all[len++] = ',';
					memcpy(all + len, doc, dl);
					len += dl;
					tract_string_free(doc);
				}
				if (rc == CLI_OK) {
					all[len++] = ']';
					all[len] = '\0';
					rc = cli_print_json(all);
				}
				free(all);
			}
		} else {
			for (i = 0; i < count; i++)
				printf("%s  child %s  %s\n", items[i]->draft_id,
				       cli_safe(items[i]->child_tract_id),
				       cli_safe(items[i]->summary_text));
			cli_safe_release();
			rc = CLI_OK;
		}
		for (i = 0; i < count; i++)
			tract_collapse_result_free(items[i]);
		free(items);
		cli_close(store, t);
		return rc;
	}
	if (discard) {
		rc = tract_collapse_draft_discard(t, discard) != 0 ? cli_fail_lib() : CLI_OK;
		if (rc == CLI_OK) {
			cli->stored = 1;
			if (json)
				printf("{\"discarded\": \"%s\"}\n", discard);
			else
				printf("Discarded draft %s\n", discard);
		}
		cli_close(store, t);
		return rc;
	}
	if (approve) {
		rc = tract_collapse_draft_approve(&r, t, approve, summary) != 0 ? cli_fail_lib()
		                                                                : CLI_OK;
	} else {
		rc = CLI_OK;
		o.summary = summary;
		o.mode = review    ? TRACT_COLLAPSE_COLLABORATIVE
		         : use_llm ? TRACT_COLLAPSE_AUTONOMOUS
		                   : TRACT_COLLAPSE_MANUAL;
		if (use_llm)
			rc = open_llm(&llm, t, provider);
		o.llm = llm;
		if (rc == CLI_OK && tract_collapse(&r, t, argv[optind], &o) != 0)
			rc = cli_fail_lib();
	}
	if (rc == CLI_OK) {
		cli->stored = 1;
		rc = print_result(r, json);
	}
	tract_collapse_result_free(r);
	tract_llm_free(llm);
	free(summary);
	cli_close(store, t);
	return rc;
}

/* ---- expand ------------------------------------------------------------------ */

int cmd_expand(struct cli *cli, int argc, char **argv)
{
	tract_expansion *x = NULL;
	tract_store *store;
	int json = 0, rc = CLI_OK;
	char *doc = NULL;
	size_t i;

	if (cli_parse_json_only(cli, argc, argv, 1, &json, &rc))
		return rc;
	if (optind >= argc)
		return cli_usage(cli, "which collapse commit? give its hash");
	if (cli_check_text(argv[optind], strlen(argv[optind]), "REF"))
		return CLI_FAIL;
	if (cli_open_store(cli, &store, 0))
		return CLI_FAIL;
	if (tract_expand(&x, store, argv[optind]) != 0) {
		rc = cli_fail_lib();
	} else if (json) {
		rc = cli_print_json_result(tract_expansion_to_json(&doc, x), &doc);
	} else {
		printf("collapse %s\nchild    %s\npurpose  %s\n", x->collapse_commit,
		       cli_safe(x->child_tract_id), cli_safe(x->purpose));
		printf("summarized %zu commit(s)%s%s:\n", x->commits->count,
		       x->since_head ? " since " : "",
		       x->since_head ? cli_safe(x->since_head) : "");
		for (i = 0; i < x->commits->count; i++) {
			char *line = NULL;
			if (tract_commit_preview(&line, x->commits->items[i], 72) != 0) {
				rc = cli_fail_lib();
				break;
			}
			printf("  %.*s %s\n", CLI_SHORT_HASH,
			       tract_commit_hash(x->commits->items[i]), cli_safe(line));
			tract_string_free(line);
		}
		cli_safe_release();
	}
	tract_expansion_free(x);
	tract_store_free(store);
	return rc;
}

/* ---- resume ------------------------------------------------------------------ */

int cmd_resume(struct cli *cli, int argc, char **argv)
{
	tract_store *store;
	tract *t = NULL;
	int json = 0, rc = CLI_OK;

	if (cli_parse_json_only(cli, argc, argv, 0, &json, &rc))
		return rc;
	if (cli_open_store(cli, &store, 0))
		return CLI_FAIL;
	if (tract_resume(&t, store, NULL) != 0) {
		rc = cli_fail_lib();
	} else if (json) {
		tract_info *info = NULL;
		char *doc = NULL;
		if (tract_store_tract_get(&info, store, tract_id(t)) != 0)
			rc = cli_fail_lib();
		else
			rc = cli_print_json_result(tract_info_to_json(&doc, info), &doc);
		tract_info_free(info);
	} else {
		printf("%s\n", tract_id(t));
	}
	tract_free(t);
	tract_store_free(store);
	return rc;
}

/* ---- session ------------------------------------------------------------------ */

int cmd_session(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"decision", required_argument, NULL, 'D'},
	    {"failed", required_argument, NULL, 'F'},
	    {"next", required_argument, NULL, 'N'},
	    {"message", required_argument, NULL, 'm'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_session_content sc = TRACT_SESSION_CONTENT_INIT;
	tract_commit_options co = TRACT_COMMIT_OPTIONS_INIT;
	const char *dec[MAX_LIST], *fail[MAX_LIST], *next[MAX_LIST];
	tract_commit *commit = NULL;
	tract_store *store;
	tract *t;
	int c, json = 0, rc;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":hm:", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
		case 'F':
		case 'N': {
			const char **arr = c == 'D' ? dec : c == 'F' ? fail : next;
			size_t *cnt = c == 'D'   ? &sc.n_decisions
			              : c == 'F' ? &sc.n_failed_approaches
			                         : &sc.n_next_steps;
			if (*cnt == MAX_LIST)
				return cli_usage(cli, "at most %d items per list", MAX_LIST);
			if (cli_check_text(optarg, strlen(optarg), "list item"))
				return CLI_FAIL;
			arr[(*cnt)++] = optarg;
			break;
		}
		case 'm':
			co.message = optarg;
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
	if (optind + 2 != argc)
		return cli_usage(
		    cli, optind + 2 > argc ? "give TYPE and SUMMARY" : "unexpected argument '%s'",
		    argv[argc - 1]);
	sc.session_type = argv[optind];
	sc.summary = argv[optind + 1];
	if (strcmp(sc.session_type, "start") && strcmp(sc.session_type, "end") &&
	    strcmp(sc.session_type, "handoff") && strcmp(sc.session_type, "checkpoint"))
		return cli_usage(cli, "TYPE is start, end, handoff or checkpoint, not '%s'",
		                 sc.session_type);
	if (cli_check_text(sc.summary, strlen(sc.summary), "SUMMARY") ||
	    (co.message && cli_check_text(co.message, strlen(co.message), "--message")))
		return CLI_FAIL;
	sc.decisions = dec;
	sc.failed_approaches = fail;
	sc.next_steps = next;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_commit_create_session(&commit, t, &sc, &co) != 0) {
		rc = cli_fail_lib();
	} else {
		cli->stored = 1;
		if (json) {
			char *doc = NULL;
			rc = cli_print_json_result(tract_commit_to_json(&doc, commit, 0), &doc);
		} else {
			printf("%s\n", tract_commit_hash(commit));
			rc = CLI_OK;
		}
	}
	tract_commit_free(commit);
	cli_close(store, t);
	return rc;
}
