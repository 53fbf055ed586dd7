/*
 * tract.c - entry point of the `tract` command: global options (--db,
 * --tract and their environment variables), the command table, the
 * dispatcher and `tract --help`. Commands live in cmd_*.c.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const struct cli_command commands[] = {
    {"init", cmd_init, "[--name NAME] [--id ID]",
     "Create the store if needed and a new tract; print its id.",
     "Options:\n"
     "  --name NAME   display name of the new tract\n"
     "  --id ID       tract id to use (default: 32 random hex digits)\n"},
    {"commit", cmd_commit, "KIND [TEXT|-] [-m MSG] [--edit REF] [--json OBJ | --file F] [options]",
     "Record a commit on HEAD; print its full hash.",
     "KIND is instruction, user, assistant or system (shortcuts taking TEXT,\n"
     "'-' reads standard input), or any content type with --json/--file.\n"
     "\n"
     "Tool calls and results (the openai/anthropic renderings send them as such):\n"
     "  commit tool-call --tool NAME [--call-id ID] JSON_ARGS|-\n"
     "      the arguments are a JSON object; without --call-id the call gets a\n"
     "      fresh id (call_ and 24 hex digits; `tract show` prints it)\n"
     "  commit tool-result --tool NAME --call-id ID [--status success|error] TEXT|-\n"
     "      a JSON object is the result's payload, other text is stored as\n"
     "      {\"text\": TEXT}; ID must be the id of a tool call of the history\n"
     "      (refused otherwise)\n"
     "\n"
     "Options:\n"
     "  --json OBJ           the content as a JSON object (content_type defaults to KIND)\n"
     "  --file F             read the JSON content object from file F ('-' = stdin)\n"
     "  -m, --message MSG    commit message\n"
     "  --edit REF           replace the message of commit REF (an edit commit)\n"
     "  --response-to REF    the commit this one answers (appends)\n"
     "  --name NAME          speaker name of a user/assistant/system turn\n"
     "  --tool NAME          the tool of a tool-call / tool-result\n"
     "  --call-id ID         the call's id (1-64 of [A-Za-z0-9_-])\n"
     "  --status S           a tool-result's status: success or error\n"
     "  --metadata JSON      metadata object\n"
     "  --config JSON        generation config object\n"
     "  --max-size SIZE      refuse input (TEXT from stdin, --file) larger than SIZE\n"
     "                       bytes (K, M, G suffixes; default TRACT_MAX_CONTENT or 64M)\n"},
    {"log", cmd_log, "[-n N] [--oneline | -v] [--graph] [--all] [--op append|edit] [--json] [REF]",
     "Show commit history from HEAD (or REF) backward, newest first.",
     "Without --graph: the first-parent line from HEAD or REF.\n"
     "\nOptions:\n"
     "  -n, --limit N    show at most N commits (N >= 1, default 20)\n"
     "  --all            show every commit (no default limit); with --graph, the\n"
     "                   history of every branch, tag and HEAD\n"
     "  --graph          draw branches and merges as 'git log --graph' does, with\n"
     "                   every parent of a merge, in git's graph order and the\n"
     "                   refs of each commit: '* 64bfbc72 (HEAD -> main) message'\n"
     "  --oneline        one short line per commit\n"
     "  -v, --verbose    the fields of each commit (hash, operation, type, tokens,\n"
     "                   date, parents, the commit answered or edited, message,\n"
     "                   metadata, generation config); 'show' prints the content\n"
     "  --op OP          only commits with operation OP (append or edit)\n"
     "  --json           machine-readable output\n"},
    {"show", cmd_show, "[--json] REF", "Show one commit with its content.",
     "REF is a full hash, a branch name or a unique prefix (>= 4 hex digits).\n"
     "\nOptions:\n"
     "  --json   machine-readable output\n"},
    {"status", cmd_status, "[--json]",
     "Show the tract, HEAD, branch, token usage, budget and recent commits.",
     "Options:\n"
     "  --json   machine-readable output\n"},
    {"compile", cmd_compile,
     "[--format json|openai|anthropic|text] [--at REF | --at-time ISO8601] [--edit-markers] "
     "[--reasoning]",
     "Compile the context as the messages sent to a model.",
     "openai and anthropic print the request body's messages members exactly as\n"
     "the provider plugins send them: tool calls and results paired by call id\n"
     "(derived for calls without one), reasoning left out.\n"
     "\n"
     "Options:\n"
     "  --format F      text (default), json, openai or anthropic\n"
     "  --reasoning     openai/anthropic: put reasoning in, as assistant text\n"
     "  --json          same as --format json\n"
     "  --at REF        compile as of commit REF\n"
     "  --at-time T     compile as of instant T (ISO 8601, UTC when no zone)\n"
     "  --edit-markers  append \" [edited]\" to messages replaced by an edit\n"},
    {"diff", cmd_diff, "[--stat] [--json] [-U N] [A [B]]",
     "Compare the compiled contexts of two revisions.",
     "No argument: HEAD against its parent (an edit against the context just\n"
     "before it; a root commit against the empty context). One argument A: A\n"
     "against HEAD (like 'git diff A'). Two: A against B. Messages are aligned\n"
     "and shown as added (+++), removed (---) or modified (~~~, with a unified\n"
     "diff of the message text), then the totals, the token delta (each message\n"
     "counted as compile counts it) and the generation-config changes (values as\n"
     "JSON, keys sorted).\n"
     "\nOptions:\n"
     "  --stat        only the totals, the token delta and the config changes\n"
     "  -U, --unified N  lines of context around each change (default 3)\n"
     "  --json        machine-readable output (README \"diff --json\")\n"},
    {"annotate", cmd_annotate, "REF skip|normal|pinned [--reason TEXT]",
     "Set the priority of a commit.",
     "Options:\n"
     "  --reason TEXT   why\n"},
    {"timeline", cmd_timeline, "[--tract ID] [--type T] [--since T] [--until T] [-n N] [--graph | --json]",
     "Every commit of every tract, oldest first.",
     "All tracts of the store, reachable commits or not, ordered by creation time.\n"
     "\nOptions:\n"
     "  --graph        one lane per tract; a spawned tract's lane opens with\n"
     "                 'spawned from PARENT', a collapse commit says 'collapse of CHILD'\n"
     "  --tract ID     only this tract's commits\n"
     "  --type T       only commits of content type T (dialogue, instruction...)\n"
     "  --since T      created at or after T (ISO 8601, UTC when no zone)\n"
     "  --until T      created before T\n"
     "  -n, --max-count N  at most N commits (the oldest)\n"
     "  --json         an array of log --json objects (with tract_id)\n"},
    {"search", cmd_search, "TEXT [--tract ID] [--type T] [--since T] [--until T] [--branch B] [-n N] [--json]",
     "Find commits whose message text contains TEXT, in every tract.",
     "Matches the text compile shows for each commit (never JSON keys), ignoring\n"
     "the case of ASCII letters. Prints time, tract, commit and a snippet.\n"
     "\nOptions:\n"
     "  --tract ID     only this tract's commits\n"
     "  --type T       only commits of content type T\n"
     "  --since T      created at or after T (ISO 8601)\n"
     "  --until T      created before T\n"
     "  --branch B     only commits on branch B of --tract (first parents)\n"
     "  -n, --max-count N  at most N hits (the oldest)\n"
     "  --json         [{tract_id, commit_hash, content_type, created_at, snippet}]\n"},
    {"wait", cmd_wait, "[--tract ID] [--past REV] [--ref NAME] [--timeout S] [--json]",
     "Block until the tract's HEAD (or a branch) moves past a commit.",
     "Returns as soon as the ref resolves to another commit than REV (default: where\n"
     "it is now), moved by any process or host sharing the store, and prints the new\n"
     "commit. Exits 1 with 'timed out' after S seconds. Polls the store with a\n"
     "backoff of 1 to 20 ms (no busy loop).\n"
     "\nOptions:\n"
     "  --tract ID     the tract to watch\n"
     "  --past REV     the commit to move past (default: the current one)\n"
     "  --ref NAME     watch branch NAME instead of HEAD\n"
     "  --timeout S    give up after S seconds (decimals allowed; default: never)\n"
     "  --json         {\"tract_id\": ..., \"head\": ...}\n"},
    {"tracts", cmd_tracts, "[--json]", "List the tracts of the store, most recently active first.",
     "The current tract (--tract, TRACT_ID or discovery) is marked '*'.\n"
     "\nOptions:\n"
     "  --json   machine-readable output\n"},
    {"tokens", cmd_tokens, "[--encoding E | --model M] [--json] [FILE|-]",
     "Print the token count of a text (a file, or standard input).",
     "Counts exactly like tiktoken's encode_ordinary. Without --encoding or --model\n"
     "the default counter is used: o200k_base, or the labelled estimate (with a\n"
     "warning) when no table is installed.\n"
     "\nOptions:\n"
     "  --encoding E   o200k_base, cl100k_base, estimate or null; fails when the\n"
     "                 encoding's table is not installed\n"
     "  --model M      the encoding of model M (gpt-4o, o3... -> o200k_base;\n"
     "                 gpt-4, gpt-3.5-turbo... -> cl100k_base; unknown -> o200k_base)\n"
     "  --json         {\"token_count\": N, \"token_source\": \"tiktoken:o200k_base\"}\n"},
    {"gc", cmd_gc, "[--retention-days N] [--archive-retention-days N] [--branch B] [--dry-run] [--json]",
     "Remove the commits no branch, tag or HEAD reaches, once old enough.",
     "Roots: HEAD, every branch and tag (or only --branch), spawn points, collapse\n"
     "commits. An unreachable commit a compression record names is an archive:\n"
     "kept unless --archive-retention-days says otherwise. Everything happens in\n"
     "one transaction.\n"
     "\nOptions:\n"
     "  --retention-days N           orphans at least N days old go (default 7)\n"
     "  --archive-retention-days N   archives at least N days old go (default: kept)\n"
     "  --branch B                   keep only branch B's history (and HEAD's)\n"
     "  --dry-run                    list what would go, remove nothing\n"
     "  --json                       machine-readable result\n"},
    {"reorder", cmd_reorder, "REF... [--strict] [--format F | --json] [--at REF]",
     "Show the compiled context with the named commits first, in that order.",
     "Nothing is written: the order is a view of a compile. The rest follows in its\n"
     "compiled order. An edit commit names the message it edits. Warnings (on\n"
     "stderr): a message now before the one it responds to (response_chain_break),\n"
     "a tool result before its call (tool_result_before_call).\n"
     "\nOptions:\n"
     "  --strict       refuse (exit 1) instead of warning\n"
     "  --format F     text (default), json, openai or anthropic\n"
     "  --json         same as --format json\n"
     "  --at REF       reorder the context as of commit REF\n"},
    {"fsck", cmd_fsck, "[--json]", "Verify every stored hash, parent link and ref of the store.",
     "Exits 1 when an error-severity problem is found (warnings alone exit 0).\n"
     "\nOptions:\n"
     "  --json   machine-readable output\n"},
    {"clone", cmd_clone, "[--json] [--quiet] [--no-verify] SRC_URI DST_URI",
     "Copy a whole store to another (any backend to any), hashes preserved.",
     "Copies every blob, commit, merge parent, ref, annotation, compression\n"
     "record, spawn pointer and metadata key of SRC_URI into DST_URI, rows as\n"
     "they are, in one transaction, then checks the copy with fsck before it\n"
     "commits. DST_URI is created when missing and must otherwise hold no\n"
     "tract data. On failure nothing is left at DST_URI. Progress is shown\n"
     "on standard error when it is a terminal. The global --db is not used.\n"
     "\nOptions:\n"
     "  --json        machine-readable output: rows copied per table, fsck result\n"
     "  -q, --quiet   no progress and no report (errors still go to stderr)\n"
     "  --no-verify   do not run fsck on the copy (copy a damaged store as is)\n"},
    {"plugins", cmd_plugins, "[--json]",
     "List the backend and provider plugins found, with paths and ABI versions.",
     "Options:\n"
     "  --json   machine-readable output\n"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_usage[] = "usage: tract [--db URI] [--tract ID] COMMAND [ARGS]\n";

static void print_help(FILE *f)
{
	fputs(global_usage, f);
	fputs("\ngit for an LLM agent's context window.\n\n"
	      "Global options (before COMMAND):\n"
	      "  --db URI      store location (env TRACT_DB, default .tract.db)\n"
	      "  --tract ID    tract to use (env TRACT_ID; default: the only or the\n"
	      "                most recently active tract)\n"
	      "  -h, --help    this help\n"
	      "  --version     print the version\n"
	      "\nCommands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'tract COMMAND --help' describes a command.\n"
	      "Exit status: 0 success, 1 operation error, 2 usage error.\n",
	      f);
}

static const struct cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static const char global_hint[] = "Try 'tract --help' for more information.\n";

/* "tract: MESSAGE", the usage line and the hint, in one write. */
static int global_usage_error(const char *fmt, const char *arg)
{
	char message[512], rest[256];

	snprintf(message, sizeof(message), fmt, arg);
	snprintf(rest, sizeof(rest), "%s%s", global_usage, global_hint);
	cli_error_lines("tract: ", message, rest);
	return CLI_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"tract", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct cli cli;
	const char *env, *no_color;
	int c, rc;

	memset(&cli, 0, sizeof(cli));
	env = getenv("TRACT_DB");
	cli.db = env && env[0] ? env : ".tract.db";
	env = getenv("TRACT_ID");
	cli.tract_id = env && env[0] ? env : NULL;
	no_color = getenv("NO_COLOR");
	cli.color = isatty(STDOUT_FILENO) && !no_color;

	argv[0] = (char *)"tract";
	opterr = 0; /* global_usage_error() reports */
	/* '+': stop at the command; global options must come before it. */
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (!optarg[0])
				return global_usage_error("%s", "--db needs a non-empty URI");
			cli.db = optarg;
			break;
		case 't':
			if (!optarg[0])
				return global_usage_error("%s", "--tract needs a non-empty id");
			cli.tract_id = optarg;
			break;
		case 'h':
			print_help(stdout);
			return CLI_OK;
		case 'V':
			printf("tract %s\n", tract_version());
			return CLI_OK;
		case ':':
			return global_usage_error("option '%.200s' needs a value",
			                          argv[optind - 1]);
		default:
			return global_usage_error("unknown option '%.200s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return global_usage_error("%s", "missing COMMAND");
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 >= argc) {
			print_help(stdout);
			return CLI_OK;
		}
		cli.cmd = find_command(argv[optind + 1]);
		if (!cli.cmd)
			return global_usage_error("unknown command '%s'", argv[optind + 1]);
		snprintf(cli.prog, sizeof(cli.prog), "tract %s", cli.cmd->name);
		return cli_help(&cli);
	}
	cli.cmd = find_command(argv[optind]);
	if (!cli.cmd)
		return global_usage_error("unknown command '%s'", argv[optind]);
	snprintf(cli.prog, sizeof(cli.prog), "tract %s", cli.cmd->name);

	cli_warnings_install();
	rc = cli.cmd->run(&cli, argc - optind, argv + optind);
	/* Exit status after success (README "Exit status"): a command whose
	 * change is committed exits 0 even when its output cannot be written,
	 * with a warning, so that a script retrying on failure does not repeat
	 * the change; a command that changed nothing fails. */
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_OK) {
		if (cli.stored)
			cli_error_lines("tract: ",
			                "warning: the change is stored, but its output could "
			                "not be written to standard output",
			                NULL);
		else
			rc = cli_fail("cannot write to standard output");
	}
	cli_warnings_flush(rc == CLI_OK);
	cli_safe_release();
	return rc;
}
