/*
 * cmd_read.c - the read commands on one tract or store: log, show,
 * status, compile and tracts, each with a human layout (spec/history.md
 * §12) and the --json shapes of CLI.md.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define C_HASH "\033[33m"
#define C_DIM "\033[2m"
#define C_BOLD "\033[1m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_RED "\033[31m"
#define C_CYAN "\033[36m"

/* Print label + text; later lines of text are indented like the first. */
static void print_field(const char *label, const char *text)
{
	size_t indent = strlen(label);

	text = cli_safe_ml(text);
	fputs(label, stdout);
	for (const char *p = text; *p; p++) {
		putchar(*p);
		if (*p == '\n' && p[1])
			printf("%*s", (int)indent, "");
	}
	putchar('\n');
}

/* Append "key": <record as JSON> to the JSON object *obj (a string the
 * library allocated; replaced). */
static int cli_json_add_member(char **obj, const char *key, const tract_compression_record *rec)
{
	char *rj = NULL, *joined = NULL;
	size_t n = strlen(*obj);
	int rc;

	if (n < 2 || (*obj)[n - 1] != '}')
		return TRACT_EINVAL;
	rc = tract_compression_record_to_json(&rj, rec);
	if (rc < 0)
		return rc;
	if (asprintf(&joined, "%.*s%s\"%s\": %s}", (int)(n - 1), *obj, n > 2 ? ", " : "", key,
	             rj) < 0) {
		tract_string_free(rj);
		return TRACT_ENOMEM;
	}
	tract_string_free(rj);
	tract_string_free(*obj);
	*obj = joined; /* freed with tract_string_free (free) */
	return 0;
}

/* A summary's JSON gains "replaced": the sources of its own group. */
static int cli_json_add_replaced(char **obj, const tract_compression_record *rec,
                                 const char *hash)
{
	size_t k = 0, first = 0, count = 0, n = strlen(*obj);
	char *joined = NULL, *list;

	tract_compression_records_find(rec, 1, hash, TRACT_COMPRESSION_AS_RESULT, &k);
	if (tract_compression_record_group(&first, &count, rec, k) != 0)
		return TRACT_EINVAL;
	list = calloc(count * 68 + 3, 1);
	if (!list)
		return TRACT_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		strcat(list, i ? ", \"" : "\"");
		strcat(list, rec->sources[first + i]);
		strcat(list, "\"");
	}
	if (asprintf(&joined, "%.*s, \"replaced\": [%s]}", (int)(n - 1), *obj, list) < 0) {
		free(list);
		return TRACT_ENOMEM;
	}
	free(list);
	tract_string_free(*obj);
	*obj = joined;
	return 0;
}

/* A summary commit's JSON gains "compression": its record (the sources are
 * the commits the whole compression replaced). */
static int cli_json_add_compression(char **obj, const tract_compression_record *rec)
{
	return cli_json_add_member(obj, "compression", rec);
}

/* ------------------------------------------------------------------ */
/* log                                                                 */

static void log_verbose(const struct cli *cli, const tract_commit *c)
{
	const char *parent = tract_commit_parent(c);
	const char *resp = tract_commit_response_to(c);
	const char *msg = tract_commit_message(c);
	const char *cfg = tract_commit_generation_config(c);
	const char *meta = tract_commit_metadata(c);
	char when[40];

	printf("%scommit %s%s\n", cli_c(cli, C_HASH), tract_commit_hash(c), cli_reset(cli));
	printf("  Operation: %s\n", tract_operation_name(tract_commit_operation(c)));
	printf("  Type:      %s\n", cli_safe(tract_commit_content_type(c)));
	printf("  Tokens:    %lld\n", (long long)tract_commit_token_count(c));
	printf("  Date:      %s\n", cli_time_short(when, sizeof(when), tract_commit_time(c), 19));
	if (parent)
		printf("  Parent:    %.*s\n", CLI_SHORT_HASH, parent);
	for (size_t i = 0; i < tract_commit_extra_parent_count(c); i++)
		printf("  Merged:    %.*s\n", CLI_SHORT_HASH, tract_commit_extra_parent(c, i));
	if (resp)
		printf("  %s %.*s\n",
		       tract_commit_operation(c) == TRACT_OP_EDIT ? "Edits:    " : "Responds: ",
		       CLI_SHORT_HASH, resp);
	if (msg)
		print_field("  Message:   ", msg);
	if (meta)
		print_field("  Metadata:  ", meta);
	if (cfg) {
		char *pairs = NULL;
		tract_json_object_pairs(&pairs, cfg);
		printf("  Config:    %s\n", cli_safe(pairs ? pairs : cfg));
		tract_string_free(pairs);
	}
	tract_error_clear();
}

/*
 * log prints as the history is read (tract_log_foreach()): memory does not
 * grow with the number of commits printed. The table's Tokens column is as
 * wide as its widest count: a first walk (no content read) measures it.
 */
struct log_print {
	const struct cli *cli;
	int width;   /* terminal width */
	size_t wtok; /* table: width of the Tokens column */
	size_t n;    /* commits printed */
	int json;
	int oneline, verbose;
	/* the tract's compression records: summary commits are marked */
	tract_compression_record *recs;
	size_t n_recs;
};

/* The record that wrote c as a summary, or NULL; *replaced: how many
 * commits that summary replaced. */
static const tract_compression_record *log_summary_of(const struct log_print *lp,
                                                      const tract_commit *c, size_t *replaced)
{
	size_t k = 0, first = 0, i = tract_compression_records_find(
	                             lp->recs, lp->n_recs, tract_commit_hash(c),
	                             TRACT_COMPRESSION_AS_RESULT, &k);

	*replaced = 0;
	if (i >= lp->n_recs)
		return NULL;
	tract_compression_record_group(&first, replaced, &lp->recs[i], k);
	return &lp->recs[i];
}

/* "[compressed N commits]", and the message unless it says just that. */
static void log_mark(char *out, size_t n, size_t replaced, const char *msg, int *keep_msg)
{
	char std[64];

	snprintf(out, n, "[compressed %zu commits]", replaced);
	snprintf(std, sizeof(std), "Compressed %zu commits", replaced);
	*keep_msg = !msg || strcmp(msg, std) != 0;
}

static int log_measure_cb(const tract_commit *c, void *payload)
{
	struct log_print *lp = payload;
	char num[32];

	snprintf(num, sizeof(num), "%lld", (long long)tract_commit_token_count(c));
	if (strlen(num) > lp->wtok)
		lp->wtok = strlen(num);
	return 0;
}

static void log_table_row(const struct log_print *lp, const tract_commit *c)
{
	const struct cli *cli = lp->cli;
	/* Hash(9) Time(16) Op(6) Tokens, separated by two spaces */
	int fixed = 9 + 2 + 16 + 2 + 6 + 2 + (int)lp->wtok + 2;
	const char *msg = tract_commit_message(c);
	size_t replaced = 0;
	const tract_compression_record *rec = log_summary_of(lp, c, &replaced);
	char when[40], *line = NULL, *cut = NULL, mark[64] = "";
	int room = lp->width - fixed, keep = 1;

	if (rec) {
		log_mark(mark, sizeof(mark) - 1, replaced, msg, &keep);
		if (keep && msg)
			strcat(mark, " ");
		else
			msg = NULL;
		room -= (int)strlen(mark);
	}

	if (msg) {
		char *first = NULL;
		tract_text_first_line(&first, msg);
		/* several lines: mark the cut */
		if (first && asprintf(&line, "%s%s", first,
		                      msg[strcspn(msg, "\r\n")] ? "\xE2\x80\xA6" : "") < 0)
			line = NULL;
		tract_string_free(first);
		tract_text_truncate(&cut, cli_safe(line), room > 1 ? (size_t)room : 1);
	}
	printf("%s%-9.*s%s  %-16s  %-6s  %*lld  %s%s%s%s\n", cli_c(cli, C_HASH), CLI_SHORT_HASH,
	       tract_commit_hash(c), cli_reset(cli),
	       cli_time_short(when, sizeof(when), tract_commit_time(c), 16),
	       tract_operation_name(tract_commit_operation(c)), (int)lp->wtok,
	       (long long)tract_commit_token_count(c), cli_c(cli, C_CYAN), mark, cli_reset(cli),
	       cut ? cut : "");
	free(line);
	tract_string_free(cut);
}

static void log_oneline_row(const struct log_print *lp, const tract_commit *c)
{
	const struct cli *cli = lp->cli;
	const char *type = cli_safe(tract_commit_content_type(c));
	size_t replaced = 0;
	const tract_compression_record *rec = log_summary_of(lp, c, &replaced);
	char mark[64] = "";
	int room, keep;
	char *preview = NULL;

	if (rec) {
		log_mark(mark, sizeof(mark) - 1, replaced, NULL, &keep);
		strcat(mark, " ");
	}
	room = lp->width - CLI_SHORT_HASH - 2 - (int)strlen(type) - (int)strlen(mark);
	tract_commit_preview(&preview, c, room > 10 ? (size_t)room : 10);
	printf("%s%.*s%s %s %s%s%s%s\n", cli_c(cli, C_HASH), CLI_SHORT_HASH, tract_commit_hash(c),
	       cli_reset(cli), type, cli_c(cli, C_CYAN), mark, cli_reset(cli), cli_safe(preview));
	tract_string_free(preview);
}

/* One element of the JSON array, pretty, indented as cli_print_json() lays
 * out the whole array. */
static int log_json_row(const struct log_print *lp, const tract_commit *c)
{
	size_t replaced = 0;
	const tract_compression_record *rec = log_summary_of(lp, c, &replaced);
	char *item = NULL, *pretty = NULL;
	int rc = tract_commit_to_json(&item, c, 0);

	if (rc == 0 && rec)
		rc = cli_json_add_compression(&item, rec);
	if (rc == 0)
		rc = tract_json_pretty(&pretty, item);
	tract_string_free(item);
	if (rc < 0)
		return rc;
	fputs(lp->n ? ",\n  " : "[\n  ", stdout);
	for (const char *p = pretty; *p; p++) {
		putchar(*p);
		if (*p == '\n')
			fputs("  ", stdout);
	}
	tract_string_free(pretty);
	return 0;
}

static int log_print_cb(const tract_commit *c, void *payload)
{
	struct log_print *lp = payload;
	const tract_compression_record *rec;
	size_t replaced = 0;
	int rc = 0;

	if (lp->json) {
		rc = log_json_row(lp, c);
	} else if (lp->oneline) {
		log_oneline_row(lp, c);
	} else if (lp->verbose) {
		if (lp->n)
			putchar('\n');
		log_verbose(lp->cli, c);
		rec = log_summary_of(lp, c, &replaced);
		if (rec)
			printf("Compressed: %zu commits (compression %s)\n", replaced,
			       rec->compression_id);
	} else {
		if (lp->n == 0)
			printf("%s%-9s  %-16s  %-6s  %*s  %s%s\n", cli_c(lp->cli, C_BOLD), "Hash",
			       "Time", "Op", (int)lp->wtok, "Tokens", "Message",
			       cli_reset(lp->cli));
		log_table_row(lp, c);
	}
	/* The row's sanitized copies: memory stays flat however long the log. */
	cli_safe_release();
	if (rc == 0)
		lp->n++;
	return rc;
}

/* log --graph: the library draws (tract_graph_foreach()), this prints. */
struct graph_print {
	const struct cli *cli;
	int width;
	int oneline;
	size_t n; /* commits printed */
};

static int graph_print_cb(const tract_graph_line *line, void *payload)
{
	struct graph_print *gp = payload;
	const struct cli *cli = gp->cli;
	const tract_commit *c = line->commit;
	char *preview = NULL, when[40];
	int room;

	if (!c) {
		printf("%s\n", line->graph);
		return 0;
	}
	room = gp->width - (int)strlen(line->graph) - CLI_SHORT_HASH - 1 -
	       (line->decoration[0] ? (int)strlen(line->decoration) + 3 : 0) -
	       (gp->oneline ? 0 : 24);
	tract_commit_preview(&preview, c, room > 10 ? (size_t)room : 10);
	printf("%s%s%.*s%s", line->graph, cli_c(cli, C_HASH), CLI_SHORT_HASH, tract_commit_hash(c),
	       cli_reset(cli));
	if (!gp->oneline)
		printf(" %s %-6s", cli_time_short(when, sizeof(when), tract_commit_time(c), 16),
		       tract_operation_name(tract_commit_operation(c)));
	if (line->decoration[0])
		printf(" %s(%s)%s", cli_c(cli, C_YELLOW), cli_safe(line->decoration),
		       cli_reset(cli));
	printf(" %s\n", cli_safe(preview));
	tract_string_free(preview);
	tract_error_clear();
	cli_safe_release();
	gp->n++;
	return 0;
}

static int log_graph(struct cli *cli, const char *ref, int all, size_t limit, int oneline)
{
	tract_graph_options gopts = TRACT_GRAPH_OPTIONS_INIT;
	struct graph_print gp;
	tract_store *store;
	tract *t;
	int rc = CLI_OK;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	gopts.start = ref;
	gopts.all = all;
	gopts.limit = limit;
	memset(&gp, 0, sizeof(gp));
	gp.cli = cli;
	gp.width = cli_term_width();
	gp.oneline = oneline;
	if (tract_graph_foreach(t, &gopts, TRACT_LOG_CONTENT, graph_print_cb, &gp) != 0)
		rc = cli_fail_ref(ref);
	else if (gp.n == 0)
		printf("No commits.\n");
	tract_error_clear();
	cli_close(store, t);
	return rc;
}

int cmd_log(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"limit", required_argument, NULL, 'n'}, {"all", no_argument, NULL, 'a'},
	    {"oneline", no_argument, NULL, 'o'},     {"verbose", no_argument, NULL, 'v'},
	    {"op", required_argument, NULL, 'O'},    {"json", no_argument, NULL, 'j'},
	    {"graph", no_argument, NULL, 'g'},       {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int64_t limit = 20;
	int oneline = 0, verbose = 0, json = 0, c, rc = CLI_OK;
	int graph = 0, all = 0, limit_given = 0, op_given = 0;
	tract_operation op = TRACT_OP_UNKNOWN;
	const char *ref = NULL;
	tract_log_options lopts = TRACT_LOG_OPTIONS_INIT;
	struct log_print lp;
	tract_store *store;
	tract *t;

	memset(&lp, 0, sizeof(lp));
	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":n:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (cli_parse_int(&limit, optarg, 1))
				return cli_usage(cli, "invalid limit '%s' (an integer >= 1)",
				                 optarg);
			limit_given = 1;
			break;
		case 'a':
			all = 1;
			break;
		case 'g':
			graph = 1;
			break;
		case 'o':
			oneline = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'O':
			if (tract_operation_parse(&op, optarg) != 0)
				return cli_usage(cli, "invalid --op '%s' (choose append or edit)",
				                 optarg);
			op_given = 1;
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
		ref = argv[optind++];
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if (oneline && verbose)
		return cli_usage(cli, "--oneline and --verbose are exclusive");
	if (ref && cli_check_text(ref, strlen(ref), "REF"))
		return CLI_FAIL;
	/* --all: every commit (no default limit); with --graph, of every
	 * branch and tag too */
	if (all && !limit_given)
		limit = 0;
	if (graph) {
		if (json || verbose || op_given)
			return cli_usage(cli, "--graph cannot be combined with %s",
			                 json ? "--json" : verbose ? "--verbose" : "--op");
		return log_graph(cli, ref, all, (size_t)limit, oneline);
	}

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_compression_records(&lp.recs, &lp.n_recs, t) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	lopts.start = ref;
	lopts.limit = (size_t)limit;
	lopts.operation = op;
	lp.cli = cli;
	lp.json = json;
	lp.oneline = oneline;
	lp.verbose = verbose;
	lp.wtok = strlen("Tokens");
	if (!json)
		lp.width = cli_term_width();
	/* Only --oneline shows content (the preview of a commit without a
	 * message): no other form reads a blob. */
	if (!json && !oneline && !verbose &&
	    tract_log_foreach(t, &lopts, 0, log_measure_cb, &lp) != 0) {
		rc = cli_fail_lib();
	} else if (tract_log_foreach(t, &lopts, oneline ? TRACT_LOG_CONTENT : 0, log_print_cb,
	                             &lp) != 0) {
		if (json && lp.n)
			fputs("\n]\n", stdout);
		rc = cli_fail_lib();
	} else if (json) {
		fputs(lp.n ? "\n]\n" : "[]\n", stdout);
	} else if (lp.n == 0) {
		printf("No commits.\n");
	}
	tract_compression_records_free(lp.recs, lp.n_recs);
	tract_error_clear();
	cli_close(store, t);
	return rc;
}

/* ------------------------------------------------------------------ */
/* show                                                                */

static void show_human(const struct cli *cli, tract *t, const tract_commit *c,
                       const tract_compression_record *rec, const tract_compression_record *src)
{
	const char *parent = tract_commit_parent(c);
	const char *resp = tract_commit_response_to(c);
	const char *msg = tract_commit_message(c);
	const char *meta = tract_commit_metadata(c);
	const char *cfg = tract_commit_generation_config(c);
	const char *content = tract_commit_content(c);
	tract_annotation_list *anns = NULL;
	char when[40];

	printf("%scommit %s%s\n", cli_c(cli, C_HASH), tract_commit_hash(c), cli_reset(cli));
	printf("Type:       %s\n", cli_safe(tract_commit_content_type(c)));
	printf("Operation:  %s\n", tract_operation_name(tract_commit_operation(c)));
	printf("Parent:     %s\n", parent ? parent : "(none)");
	for (size_t i = 0; i < tract_commit_extra_parent_count(c); i++)
		printf("Merged:     %s\n", tract_commit_extra_parent(c, i));
	if (resp)
		printf("%s %s\n",
		       tract_commit_operation(c) == TRACT_OP_EDIT ? "Edits:     " : "Responds:  ",
		       resp);
	tract_time_format(when, sizeof(when), tract_commit_time(c));
	printf("Date:       %s\n", when);
	printf("Tokens:     %lld\n", (long long)tract_commit_token_count(c));
	if (tract_annotation_list_get(&anns, t, tract_commit_hash(c)) == 0 && anns->count) {
		const tract_annotation *a = &anns->items[anns->count - 1];
		printf("Priority:   %s%s%s%s\n", tract_priority_name(a->priority),
		       a->reason ? " (" : "", cli_safe(a->reason), a->reason ? ")" : "");
	}
	tract_annotation_list_free(anns);
	tract_error_clear();
	if (msg)
		print_field("Message:    ", msg);
	if (meta)
		print_field("Metadata:   ", meta);
	if (cfg) {
		char *pairs = NULL;
		tract_json_object_pairs(&pairs, cfg);
		printf("Config:     %s\n", cli_safe(pairs ? pairs : cfg));
		tract_string_free(pairs);
	}
	tract_error_clear();
	if (rec) {
		size_t k = 0, first = 0, count = 0;

		tract_compression_records_find(rec, 1, tract_commit_hash(c),
		                               TRACT_COMPRESSION_AS_RESULT, &k);
		tract_compression_record_group(&first, &count, rec, k);
		printf("Compressed: %zu commits (compression %s, %lld -> %lld tokens)\n", count,
		       rec->compression_id, (long long)rec->original_tokens,
		       (long long)rec->compressed_tokens);
		for (size_t i = first; i < first + count; i++)
			printf("Replaced:   %s\n", rec->sources[i]);
	}
	if (src)
		printf("Summarized: in compression %s by %s\n", src->compression_id,
		       src->n_results ? src->results[0] : "(none)");
	putchar('\n');
	if (content) {
		char *pretty = NULL;
		tract_json_pretty(&pretty, content);
		printf("%s\n", cli_safe_ml(pretty ? pretty : content));
		tract_string_free(pretty);
		tract_error_clear();
	} else {
		printf("(content missing)\n");
	}
}

int cmd_show(struct cli *cli, int argc, char **argv)
{
	int json = 0, rc;
	tract_store *store;
	tract_commit *commit;
	const char *ref;
	tract *t;

	if (cli_parse_json_only(cli, argc, argv, 1, &json, &rc))
		return rc;
	if (optind >= argc)
		return cli_usage(cli, "missing REF");
	ref = argv[optind];
	if (cli_check_text(ref, strlen(ref), "REF"))
		return CLI_FAIL;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_commit_lookup(&commit, t, ref) != 0) {
		rc = cli_fail_ref(ref);
	} else {
		/* a summary: the compression that wrote it and the commits it
		 * replaced; a replaced commit: the compression that did */
		tract_compression_record *rec = NULL, *src = NULL;
		int lrc = tract_compression_lookup(&rec, t, tract_commit_hash(commit),
		                                   TRACT_COMPRESSION_AS_RESULT);

		if (lrc == TRACT_ENOTFOUND)
			lrc = tract_compression_lookup(&src, t, tract_commit_hash(commit),
			                               TRACT_COMPRESSION_AS_SOURCE);
		if (lrc != 0 && lrc != TRACT_ENOTFOUND) {
			rc = cli_fail_lib();
		} else if (json) {
			char *doc = NULL;
			int jrc = tract_commit_to_json(&doc, commit, TRACT_COMMIT_JSON_SHOW);
			if (jrc == 0 && rec)
				jrc = cli_json_add_compression(&doc, rec);
			if (jrc == 0 && rec)
				jrc = cli_json_add_replaced(&doc, rec, tract_commit_hash(commit));
			if (jrc == 0 && src)
				jrc = cli_json_add_member(&doc, "compressed_by", src);
			rc = cli_print_json_result(jrc, &doc);
		} else {
			show_human(cli, t, commit, rec, src);
			rc = CLI_OK;
		}
		tract_compression_record_free(rec);
		tract_compression_record_free(src);
		tract_commit_free(commit);
	}
	cli_close(store, t);
	return rc;
}

/* ------------------------------------------------------------------ */
/* status                                                              */

/* Budget line: "<n> / <max> [####------] <pct>%" (history.md §12.3). */
static void print_budget(const struct cli *cli, int64_t tokens, int64_t max)
{
	int64_t fill = 0, pct = 0;
	const char *colour = C_GREEN;
	char bar[31];

	if (max > 0 && tokens > 0) {
		/* floor(tokens / max * 30), capped; pct rounded half to even */
		fill = tokens >= max ? 30 : tokens * 30 / max;
		int64_t num = tokens * 100, q = num / max, r = num % max;
		if (2 * r > max || (2 * r == max && (q & 1)))
			q++;
		pct = q;
		if (tokens * 10 > max * 9)
			colour = C_RED;
		else if (tokens * 10 > max * 7)
			colour = C_YELLOW;
	}
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[30] = '\0';
	printf("  Tokens:  %lld / %lld %s[%s] %lld%%%s\n", (long long)tokens, (long long)max,
	       cli_c(cli, colour), bar, (long long)pct, cli_reset(cli));
}

int cmd_status(struct cli *cli, int argc, char **argv)
{
	tract_commit_list *recent = NULL;
	tract_log_options lopts = TRACT_LOG_OPTIONS_INIT;
	tract_status *st = NULL;
	tract_store *store;
	int json = 0, rc = CLI_OK;
	tract *t;

	if (cli_parse_json_only(cli, argc, argv, 0, &json, &rc))
		return rc;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_status_get(&st, t) != 0) {
		rc = cli_fail_lib();
		cli_close(store, t);
		return rc;
	}
	if (json) {
		char *doc = NULL;
		rc = cli_print_json_result(tract_status_to_json(&doc, st), &doc);
	} else if (!st->head[0]) {
		printf("No commits yet.\n");
		printf("  Tract:   %s\n", cli_safe(st->tract_id));
	} else if ((lopts.limit = 3, tract_log_list(&recent, t, &lopts)) != 0) {
		rc = cli_fail_lib();
	} else {
		if (st->detached)
			printf("HEAD detached at %s%.*s%s\n", cli_c(cli, C_HASH), CLI_SHORT_HASH,
			       st->head, cli_reset(cli));
		else
			printf("On branch %s%s%s  (%s%.*s%s)\n", cli_c(cli, C_CYAN),
			       st->branch ? cli_safe(st->branch) : "?", cli_reset(cli),
			       cli_c(cli, C_HASH),
			       CLI_SHORT_HASH, st->head, cli_reset(cli));
		printf("  Tract:   %s\n", cli_safe(st->tract_id));
		printf("  Commits: %lld\n", (long long)st->commit_count);
		if (st->max_tokens >= 0)
			print_budget(cli, st->token_count, st->max_tokens);
		else
			printf("  Tokens:  %lld (no budget set)\n", (long long)st->token_count);
		if (st->token_source && st->token_source[0])
			printf("  Source:  %s\n", cli_safe(st->token_source));
		if (recent->count) {
			printf("\nRecent commits:\n");
			for (size_t i = 0; i < recent->count; i++) {
				const tract_commit *rc_ = recent->items[i];
				const char *msg = tract_commit_message(rc_);
				char when[40], *line = NULL;
				if (msg)
					tract_text_first_line(&line, msg);
				cli_time_short(when, sizeof(when), tract_commit_time(rc_), 19);
				printf("  %s%.*s%s %s %s%s%s\n", cli_c(cli, C_HASH), CLI_SHORT_HASH,
				       tract_commit_hash(rc_), cli_reset(cli),
				       strlen(when) > 11 ? when + 11 : when,
				       tract_operation_name(tract_commit_operation(rc_)), line ? " " : "",
				       cli_safe(line));
				tract_string_free(line);
			}
		}
	}
	tract_commit_list_free(recent);
	tract_status_free(st);
	cli_close(store, t);
	return rc;
}

/* ------------------------------------------------------------------ */
/* compile                                                             */

int cmd_compile(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'}, {"json", no_argument, NULL, 'j'},
	    {"at", required_argument, NULL, 'a'},     {"at-time", required_argument, NULL, 'T'},
	    {"edit-markers", no_argument, NULL, 'e'}, {"merge-messages", no_argument, NULL, 'M'},
	    {"reasoning", no_argument, NULL, 'r'},    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned render_flags = 0;
	tract_compile_options copts = TRACT_COMPILE_OPTIONS_INIT;
	tract_format fmt = TRACT_FORMAT_TEXT;
	const char *at = NULL, *at_time = NULL;
	int json = 0, format_given = 0, c, rc = CLI_OK;
	tract_context *ctx = NULL;
	tract_store *store;
	tract *t;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format_given = 1;
			if (tract_format_parse(&fmt, optarg) != 0)
				return cli_usage(cli,
				                 "invalid format '%s' (choose text, json, openai "
				                 "or anthropic)",
				                 optarg);
			break;
		case 'j':
			json = 1;
			break;
		case 'a':
			at = optarg;
			break;
		case 'T':
			at_time = optarg;
			break;
		case 'e':
			copts.edit_markers = 1;
			break;
		case 'M':
			copts.merge_messages = 1;
			break;
		case 'r':
			render_flags |= TRACT_RENDER_REASONING;
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if (render_flags && fmt != TRACT_FORMAT_OPENAI && fmt != TRACT_FORMAT_ANTHROPIC)
		return cli_usage(cli, "--reasoning needs --format openai or anthropic (the other "
		                 "renderings always hold reasoning)");
	if (json) {
		if (format_given && fmt != TRACT_FORMAT_JSON)
			return cli_usage(cli, "--json and --format are exclusive");
		fmt = TRACT_FORMAT_JSON;
	}
	if (at && at_time)
		return cli_usage(cli, "--at and --at-time are exclusive");
	if (at) {
		if (cli_check_text(at, strlen(at), "--at"))
			return CLI_FAIL;
		copts.at_commit = at;
	}
	if (at_time && tract_time_parse(&copts.at_time, at_time) != 0)
		return cli_fail("invalid time '%s' (expected ISO 8601, e.g. "
		                "2026-01-02T03:04:05Z)",
		                at_time);

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_context_compile(
	        &ctx, t,
	        at || at_time || copts.edit_markers || copts.merge_messages ? &copts : NULL) != 0)
		rc = cli_fail_ref(at);
	else
		rc = cli_print_context(ctx, fmt, render_flags);
	tract_context_free(ctx);
	cli_close(store, t);
	return rc;
}

int cli_print_context(const tract_context *ctx, tract_format fmt, unsigned render_flags)
{
	char *out = NULL;
	size_t len = 0;
	int rc = CLI_OK;

	if (tract_context_render_with(&out, &len, ctx, fmt, render_flags) != 0) {
		rc = cli_fail_lib();
	} else if (fmt == TRACT_FORMAT_TEXT && isatty(STDOUT_FILENO)) {
		/* On a terminal, the text is made safe to show (escapes for
		 * control characters, U+0000 included, and bidi overrides). */
		char *safe = NULL;
		if (tract_text_sanitize(&safe, out, len, TRACT_SANITIZE_KEEP_NEWLINES) != 0) {
			rc = cli_fail_lib();
		} else {
			fputs(safe, stdout);
			if (safe[0] && safe[strlen(safe) - 1] != '\n')
				putchar('\n');
		}
		tract_string_free(safe);
	} else if (fmt == TRACT_FORMAT_TEXT) {
		/* Piped, the text rendering is the data: written as it is,
		 * U+0000 bytes included. */
		fwrite(out, 1, len, stdout);
		if (len && out[len - 1] != '\n')
			putchar('\n');
	} else {
		rc = cli_print_json(out) ? CLI_FAIL : CLI_OK;
	}
	tract_string_free(out);
	return rc;
}

/* ------------------------------------------------------------------ */
/* tracts                                                              */

static void tracts_human(const struct cli *cli, const tract_info *infos, size_t n)
{
	size_t wname = strlen("Name"), wbranch = strlen("Branch");
	const char *current = cli->tract_id ? cli->tract_id : infos[0].tract_id;

	for (size_t i = 0; i < n; i++) {
		const tract_info *in = &infos[i];
		size_t w = in->display_name ? cli_utf8_width(cli_safe(in->display_name)) : 1;
		if (w > wname)
			wname = w;
		w = in->branch ? cli_utf8_width(cli_safe(in->branch)) : strlen("(detached)");
		if (w > wbranch)
			wbranch = w;
	}
	if (wname > 30)
		wname = 30;
	printf("%s  %-32s  %-*s  %-*s  %-8s  %7s  %s%s\n", cli_c(cli, C_BOLD), "Tract", (int)wname,
	       "Name", (int)wbranch, "Branch", "Head", "Commits", "Last activity", cli_reset(cli));
	for (size_t i = 0; i < n; i++) {
		const tract_info *in = &infos[i];
		const char *branch = in->branch   ? cli_safe(in->branch)
		                     : in->head ? "(detached)"
		                                : "-";
		char when[40], *name = NULL;
		size_t pad;

		tract_text_truncate(&name, in->display_name ? cli_safe(in->display_name) : "-",
		                    wname);
		cli_time_short(when, sizeof(when), in->last_activity, 16);
		printf("%c %-32s  %s", strcmp(in->tract_id, current) == 0 ? '*' : ' ',
		       cli_safe(in->tract_id),
		       name ? name : "");
		/* pad by code points, not bytes */
		pad = wname - (name ? cli_utf8_width(name) : 0);
		printf("%*s  %-*s  %s%-8.8s%s  %7lld  %s\n", (int)pad, "", (int)wbranch, branch,
		       cli_c(cli, C_HASH), in->head ? cli_safe(in->head) : "-", cli_reset(cli),
		       (long long)in->commit_count, when);
		tract_string_free(name);
	}
	tract_error_clear();
}

int cmd_tracts(struct cli *cli, int argc, char **argv)
{
	tract_info_list *list = NULL;
	tract_store *store;
	int json = 0, rc = CLI_OK;
	char *doc = NULL;

	if (cli_parse_json_only(cli, argc, argv, 0, &json, &rc))
		return rc;

	if (cli_open_store(cli, &store, 0))
		return CLI_FAIL;
	if (tract_store_list_tracts(&list, store) != 0)
		rc = cli_fail_lib();
	else if (json)
		rc = cli_print_json_result(tract_info_list_to_json(&doc, list), &doc);
	else if (list->count == 0)
		printf("No tracts.\n");
	else
		tracts_human(cli, list->items, list->count);
	tract_info_list_free(list);
	tract_store_free(store);
	return rc;
}
