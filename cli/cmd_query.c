/*
 * cmd_query.c - cross-tract commands: timeline, search, wait
 * (include/tract/query.h, include/tract/wait.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define C_YELLOW "\033[33m"
#define C_CYAN "\033[36m"

/* Options timeline and search share. */
struct query_args {
	int graph;
	const char *tract_id;
	const char *type;
	const char *branch;
	tract_time since, until;
	size_t limit;
	int json;
};

static int parse_time_opt(struct cli *cli, tract_time *out, const char *text, const char *name)
{
	if (cli_check_text(text, strlen(text), name))
		return CLI_FAIL;
	if (tract_time_parse(out, text) != 0)
		return cli_usage(cli, "%s needs an ISO 8601 time, not '%s'", name, cli_safe(text));
	return 0;
}

/* Parse argv; *nargs operands are left from optind. Returns -1 to go on,
 * else the exit status. */
static int parse_query(struct cli *cli, int argc, char **argv, struct query_args *a,
		       int with_branch)
{
	static const struct option opts[] = {
	    {"tract", required_argument, NULL, 't'},
	    {"type", required_argument, NULL, 'y'},
	    {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},
	    {"branch", required_argument, NULL, 'b'},
	    {"max-count", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"graph", no_argument, NULL, 'g'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int64_t n;
	int c, rc;

	memset(a, 0, sizeof(*a));
	a->since = a->until = TRACT_TIME_NONE;
	a->tract_id = NULL;
	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":hn:", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			a->tract_id = optarg;
			break;
		case 'y':
			a->type = optarg;
			break;
		case 's':
			if ((rc = parse_time_opt(cli, &a->since, optarg, "--since")))
				return rc;
			break;
		case 'u':
			if ((rc = parse_time_opt(cli, &a->until, optarg, "--until")))
				return rc;
			break;
		case 'b':
			if (!with_branch)
				return cli_usage(cli, "unknown option '--branch'");
			a->branch = optarg;
			break;
		case 'n':
			if (cli_parse_int(&n, optarg, 1) != 0)
				return cli_usage(cli, "-n needs a number >= 1, not '%s'",
						 cli_safe(optarg));
			a->limit = (size_t)n;
			break;
		case 'j':
			a->json = 1;
			break;
		case 'g':
			if (with_branch)
				return cli_usage(cli, "unknown option '--graph'");
			a->graph = 1;
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (a->graph && a->json)
		return cli_usage(cli, "--graph and --json cannot be combined");
	if (a->tract_id && cli_check_text(a->tract_id, strlen(a->tract_id), "--tract"))
		return CLI_FAIL;
	if (a->type && cli_check_text(a->type, strlen(a->type), "--type"))
		return CLI_FAIL;
	if (a->branch && cli_check_text(a->branch, strlen(a->branch), "--branch"))
		return CLI_FAIL;
	return -1;
}

/* timeline --graph: one lane per tract, from its first commit on. */
struct lane {
	char *tract_id;
	char *parent; /* spawning parent, NULL when none */
	int seen;     /* a commit of it was printed */
	int lane;     /* its column, -1 before its first commit */
};

struct timeline_print {
	struct cli *cli;
	int graph;
	struct lane *lanes;
	size_t n_lanes;
	int n_cols;
};

static struct lane *lane_of(struct timeline_print *p, const char *tract_id)
{
	for (size_t i = 0; i < p->n_lanes; i++)
		if (strcmp(p->lanes[i].tract_id, tract_id) == 0)
			return &p->lanes[i];
	return NULL;
}

/* The source tract a collapse commit names in its metadata, or NULL. */
static char *collapse_source(const tract_commit *c)
{
	const char *meta = tract_commit_metadata(c);
	cJSON *j, *v;
	char *out = NULL;

	if (!meta || !strstr(meta, "collapse_source_tract_id"))
		return NULL;
	j = cJSON_Parse(meta);
	v = j ? cJSON_GetObjectItemCaseSensitive(j, "collapse_source_tract_id") : NULL;
	if (cJSON_IsString(v))
		out = strdup(v->valuestring);
	cJSON_Delete(j);
	return out;
}

/* The lanes before the text: '*' for the commit's tract, '|' for the
 * others that have started. */
static void print_lanes(struct timeline_print *p, int col)
{
	for (int k = 0; k < p->n_cols; k++)
		fputs(k == col ? "* " : "| ", stdout);
}

static int timeline_line(const tract_commit *c, void *payload)
{
	struct timeline_print *p = payload;
	char when[40], *preview = NULL;

	cli_time_short(when, sizeof(when), tract_commit_time(c), 19);
	if (tract_commit_preview(&preview, c, 60) != 0)
		return -1;
	if (p->graph) {
		struct lane *ln = lane_of(p, tract_commit_tract_id(c));
		char *src = collapse_source(c);

		if (ln && ln->lane < 0) {
			ln->lane = p->n_cols++;
			if (ln->parent) {
				/* The new lane opens to the right: "| \". */
				for (int k = 0; k < p->n_cols; k++)
					fputs(k == p->n_cols - 1 ? "\\ " : "| ", stdout);
				printf(" %s%.12s%s spawned from %s%.12s%s\n", cli_c(p->cli, C_CYAN),
				       cli_safe(ln->tract_id), cli_reset(p->cli), cli_c(p->cli, C_CYAN),
				       cli_safe(ln->parent), cli_reset(p->cli));
			}
		}
		print_lanes(p, ln ? ln->lane : -1);
		if (src) {
			printf(" %s  %s%.12s%s  %s%.*s%s  collapse of %s%.12s%s  %s\n", when,
			       cli_c(p->cli, C_CYAN), cli_safe(tract_commit_tract_id(c)),
			       cli_reset(p->cli), cli_c(p->cli, C_YELLOW), CLI_SHORT_HASH,
			       tract_commit_hash(c), cli_reset(p->cli), cli_c(p->cli, C_CYAN),
			       cli_safe(src), cli_reset(p->cli), cli_safe(preview));
			free(src);
			tract_string_free(preview);
			cli_safe_release();
			return 0;
		}
		fputc(' ', stdout);
	}
	printf("%s  %s%.12s%s  %s%.*s%s  %-12s %s\n", when, cli_c(p->cli, C_CYAN),
	       cli_safe(tract_commit_tract_id(c)), cli_reset(p->cli), cli_c(p->cli, C_YELLOW),
	       CLI_SHORT_HASH, tract_commit_hash(c), cli_reset(p->cli),
	       cli_safe(tract_commit_content_type(c)), cli_safe(preview));
	tract_string_free(preview);
	cli_safe_release();
	return 0;
}

int cmd_timeline(struct cli *cli, int argc, char **argv)
{
	tract_timeline_options o = TRACT_TIMELINE_OPTIONS_INIT;
	struct query_args a;
	tract_store *store;
	int rc;

	rc = parse_query(cli, argc, argv, &a, 0);
	if (rc >= 0)
		return rc;
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", cli_safe(argv[optind]));
	o.tract_id = a.tract_id;
	o.content_type = a.type;
	o.since = a.since;
	o.until = a.until;
	o.limit = a.limit;
	o.content = !a.json;
	if (cli_open_store(cli, &store, 0))
		return CLI_FAIL;
	if (a.json) {
		tract_commit_list *list = NULL;
		char *doc = NULL;

		if (tract_timeline_list(&list, store, &o) != 0)
			rc = cli_fail_lib();
		else
			rc = cli_print_json_result(tract_commit_list_to_json(&doc, list, 0), &doc);
		tract_commit_list_free(list);
	} else {
		struct timeline_print p = {cli, a.graph, NULL, 0, 0};
		tract_info_list *tl = NULL;

		if (a.graph) {
			if (tract_store_list_tracts(&tl, store) != 0) {
				rc = cli_fail_lib();
				tract_store_free(store);
				return rc;
			}
			p.lanes = calloc(tl->count ? tl->count : 1, sizeof(*p.lanes));
			if (!p.lanes) {
				tract_info_list_free(tl);
				tract_store_free(store);
				return cli_fail("out of memory");
			}
			for (size_t i = 0; i < tl->count; i++) {
				p.lanes[i].tract_id = tl->items[i].tract_id;
				p.lanes[i].parent = tl->items[i].parent_tract_id;
				p.lanes[i].lane = -1;
			}
			p.n_lanes = tl->count;
		}
		fflush(stdout);
		rc = tract_timeline_foreach(store, &o, timeline_line, &p) != 0 ? cli_fail_lib()
									       : CLI_OK;
		free(p.lanes);
		tract_info_list_free(tl);
	}
	tract_store_free(store);
	return rc;
}

int cmd_search(struct cli *cli, int argc, char **argv)
{
	tract_search_options o = TRACT_SEARCH_OPTIONS_INIT;
	tract_search_list *list = NULL;
	struct query_args a;
	tract_store *store;
	const char *term;
	int rc;

	rc = parse_query(cli, argc, argv, &a, 1);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage(cli, "missing the text to search for");
	if (optind + 1 < argc)
		return cli_usage(cli, "unexpected argument '%s'", cli_safe(argv[optind + 1]));
	term = argv[optind];
	if (cli_check_text(term, strlen(term), "the search text"))
		return CLI_FAIL;
	if (!*term)
		return cli_usage(cli, "the search text is empty");
	if (a.branch && !a.tract_id)
		return cli_usage(cli, "--branch needs --tract");
	o.tract_id = a.tract_id;
	o.content_type = a.type;
	o.since = a.since;
	o.until = a.until;
	o.branch = a.branch;
	o.limit = a.limit;
	if (cli_open_store(cli, &store, 0))
		return CLI_FAIL;
	if (tract_search_run(&list, store, term, &o) != 0) {
		rc = cli_fail_lib();
	} else if (a.json) {
		char *doc = NULL;
		rc = cli_print_json_result(tract_search_list_to_json(&doc, list), &doc);
	} else {
		for (size_t i = 0; i < list->count; i++) {
			const tract_search_hit *h = &list->items[i];
			char when[40];

			cli_time_short(when, sizeof(when), h->created_at, 19);
			printf("%s  %s%.12s%s  %s%.*s%s  %s\n", when, cli_c(cli, C_CYAN),
			       cli_safe(h->tract_id), cli_reset(cli), cli_c(cli, C_YELLOW),
			       CLI_SHORT_HASH, h->commit_hash, cli_reset(cli), cli_safe(h->snippet));
			cli_safe_release();
		}
		rc = CLI_OK;
	}
	tract_search_list_free(list);
	tract_store_free(store);
	return rc;
}

int cmd_wait(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"tract", required_argument, NULL, 't'},
	    {"past", required_argument, NULL, 'p'},
	    {"ref", required_argument, NULL, 'r'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"collapsed", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_wait_options o = TRACT_WAIT_OPTIONS_INIT;
	char hash[TRACT_HASH_HEXSIZE + 1];
	tract_store *store;
	tract *t;
	int c, json = 0, rc;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cli_check_text(optarg, strlen(optarg), "--tract"))
				return CLI_FAIL;
			cli->tract_id = optarg;
			break;
		case 'p':
			o.past = optarg;
			break;
		case 'r':
			o.ref = optarg;
			break;
		case 'c':
			if (cli_check_text(optarg, strlen(optarg), "--collapsed"))
				return CLI_FAIL;
			o.collapsed = optarg;
			break;
		case 'T': {
			char *end = NULL;
			double s = strtod(optarg, &end);

			if (!*optarg || !end || *end || !(s >= 0) || s > 31536000.0)
				return cli_usage(cli, "--timeout needs seconds >= 0, not '%s'",
						 cli_safe(optarg));
			o.timeout_ms = (int64_t)(s * 1000.0 + 0.5);
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
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", cli_safe(argv[optind]));
	if (o.past && cli_check_text(o.past, strlen(o.past), "--past"))
		return CLI_FAIL;
	if (o.ref && cli_check_text(o.ref, strlen(o.ref), "--ref"))
		return CLI_FAIL;
	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	rc = tract_wait_ref(hash, t, &o);
	if (rc == TRACT_ENOTFOUND && o.past) {
		rc = cli_fail_ref(o.past);
	} else if (rc != 0) {
		rc = cli_fail_lib();
	} else if (json && o.collapsed) {
		printf("{\n  \"tract_id\": \"%s\",\n  \"child_tract_id\": \"%s\",\n"
		       "  \"collapse_commit\": \"%s\"\n}\n",
		       tract_id(t), o.collapsed, hash);
		rc = CLI_OK;
	} else if (json) {
		printf("{\n  \"tract_id\": \"%s\",\n  \"head\": %s%s%s\n}\n", tract_id(t),
		       hash[0] ? "\"" : "", hash[0] ? hash : "null", hash[0] ? "\"" : "");
		rc = CLI_OK;
	} else {
		printf("%s\n", hash[0] ? hash : "(none)");
		rc = CLI_OK;
	}
	cli_close(store, t);
	return rc;
}
