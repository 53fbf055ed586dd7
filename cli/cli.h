/*
 * cli.h - shared declarations of the `tract` command: the command table,
 * the per-invocation state and the helpers every command uses (errors,
 * usage, input reading, printing, colours). Public API only: what the
 * output holds comes from the library; the command parses arguments, does
 * I/O and lays out text for people.
 */
#ifndef TRACT_CLI_H
#define TRACT_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "tract.h"

/* Exit statuses (CLI.md "Global"). */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/* State of one invocation. */
struct cli {
	const char *db;                /* store URI (--db, TRACT_DB, ".tract.db") */
	const char *tract_id;          /* --tract / TRACT_ID, NULL = discovery */
	int color;                     /* stdout is a terminal and NO_COLOR unset */
	const struct cli_command *cmd; /* command being run */
	char prog[64];                 /* "tract CMD", for getopt and usage messages */
	int stored;                    /* the command changed a store (exit-status rule) */
};

struct cli_command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *synopsis; /* arguments after the command name */
	const char *summary;  /* one line for `tract --help` */
	const char *help;     /* options and details for `tract CMD --help` */
};

/* Commands (cmd_*.c). */
int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_commit(struct cli *cli, int argc, char **argv);
int cmd_annotate(struct cli *cli, int argc, char **argv);
int cmd_log(struct cli *cli, int argc, char **argv);
int cmd_show(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_compile(struct cli *cli, int argc, char **argv);
int cmd_tracts(struct cli *cli, int argc, char **argv);
int cmd_tokens(struct cli *cli, int argc, char **argv);
int cmd_fsck(struct cli *cli, int argc, char **argv);
int cmd_plugins(struct cli *cli, int argc, char **argv);
int cmd_clone(struct cli *cli, int argc, char **argv);
/* history (cmd_merge.c) */
int cmd_merge(struct cli *cli, int argc, char **argv);
int cmd_gc(struct cli *cli, int argc, char **argv);
int cmd_reorder(struct cli *cli, int argc, char **argv);
/* diff (cmd_diff.c) */
int cmd_diff(struct cli *cli, int argc, char **argv);
/* timeline, search, wait (cmd_query.c) */
int cmd_timeline(struct cli *cli, int argc, char **argv);
int cmd_search(struct cli *cli, int argc, char **argv);
int cmd_wait(struct cli *cli, int argc, char **argv);
/* navigation (cmd_history.c) */
int cmd_reset(struct cli *cli, int argc, char **argv);
int cmd_checkout(struct cli *cli, int argc, char **argv);
int cmd_switch(struct cli *cli, int argc, char **argv);
int cmd_branch(struct cli *cli, int argc, char **argv);
int cmd_tag(struct cli *cli, int argc, char **argv);
/* history rewriting (cmd_replay.c) */
int cmd_cherry_pick(struct cli *cli, int argc, char **argv);
int cmd_rebase(struct cli *cli, int argc, char **argv);
int cmd_generate(struct cli *cli, int argc, char **argv);
/* multi-agent (cmd_agents.c) */
int cmd_spawn(struct cli *cli, int argc, char **argv);
int cmd_collapse(struct cli *cli, int argc, char **argv);
int cmd_expand(struct cli *cli, int argc, char **argv);
int cmd_resume(struct cli *cli, int argc, char **argv);
int cmd_session(struct cli *cli, int argc, char **argv);
/* tool-result compaction and the token budget (cmd_compact.c) */
int cmd_compact_tools(struct cli *cli, int argc, char **argv);
int cmd_budget(struct cli *cli, int argc, char **argv);

/* ---- `--llm` of merge, cherry-pick and rebase (llm_resolve.c) ---- */
#define CLI_LLM_MAX_OPTIONS 32
struct cli_llm {
	int enabled;                 /* --llm given */
	const char *provider;        /* --provider, NULL = env or stored */
	const char *model;           /* --model, NULL = env or stored */
	const char *option_args[CLI_LLM_MAX_OPTIONS]; /* -o KEY=VALUE as given */
	size_t n_options;
	/* set by cli_llm_open(), released by cli_llm_close() */
	tract_provider_option options[CLI_LLM_MAX_OPTIONS];
	size_t n_keys;
	char *stored_provider, *stored_model;
	tract_llm *llm;
	tract_llm_resolver *resolver;
};
/* -o KEY=VALUE: 0, -1 malformed, -2 too many. */
int cli_llm_add_option(struct cli_llm *l, const char *arg);
/* Options that are not text: an error printed, CLI_FAIL. */
int cli_llm_check(const struct cli_llm *l);
/* --provider/--model/--option without --llm: 1 */
#define CLI_LLM_STRAY(l) (!(l)->enabled && ((l)->provider || (l)->model || (l)->n_options))
/* Open the provider and the resolver (CLI_OK or an error printed). */
int cli_llm_open(struct cli_llm *l, tract *t);
void cli_llm_close(struct cli_llm *l);
/* compression (cmd_compress.c) */
int cmd_compress(struct cli *cli, int argc, char **argv);

/* ---- errors and usage (util.c) ---- */

/* Write prefix + text (sanitized, one line) + "\n" + rest (constant text,
 * may be NULL) on stderr in one write(2). */
void cli_error_lines(const char *prefix, const char *text, const char *rest);
/* Print "tract: MESSAGE" (one line, one write) on stderr; returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report the library's last error (one line); returns CLI_FAIL. */
int cli_fail_lib(void);
/* Usage error for the current command: message, usage line; returns CLI_USAGE. */
int cli_usage(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error for what getopt_long returned c (':' a missing value, '?' an
 * unknown option; optstrings start with ':'); returns CLI_USAGE. */
int cli_getopt_error(struct cli *cli, int c, char **argv);
/* Report a failed revision lookup of ref: the library's error, or that a
 * prefix needs at least 4 hex digits (ref 1-3 hex digits); CLI_FAIL. */
int cli_fail_ref(const char *ref);
/* Print the command's full help on stdout; returns CLI_OK. */
int cli_help(struct cli *cli);
/* Prepare getopt for a command: argv[0] becomes "tract CMD", state reset. */
void cli_getopt_reset(struct cli *cli, char **argv);
/*
 * Parse the options of a command whose only option is --json (besides -h,
 * --help) and allow at most max_args operands, from argv[optind]. Returns 0
 * to go on, or 1 when the command is done (help shown, usage error) and
 * must return *status.
 */
int cli_parse_json_only(struct cli *cli, int argc, char **argv, int max_args, int *json,
                        int *status);
/* Warnings from the library are held until the command succeeds. */
void cli_warnings_install(void);
void cli_warnings_flush(int print);

/* ---- store and tract (util.c) ---- */

/* Open the store; create only with TRACT_STORE_CREATE. Reports errors. */
int cli_open_store(struct cli *cli, tract_store **out, unsigned flags);
/* Open the store and the selected tract. Reports errors. */
int cli_open_tract(struct cli *cli, tract_store **out_store, tract **out_tract);
void cli_close(tract_store *store, tract *t);

/* ---- input (util.c) ---- */

/* Read a whole file ("-" = stdin), NUL-terminated, of at most
 * cli_input_limit() bytes: a larger input is refused as soon as the byte
 * past the limit is read. Reports errors. */
int cli_read_file(char **out, size_t *len, const char *path);
/* The largest input read: max when not 0, else TRACT_MAX_CONTENT when set
 * (cli_input_limit_set() reports an invalid value: returns CLI_FAIL;
 * cli_input_limit() then uses the default), else the library's
 * TRACT_MAX_CONTENT_DEFAULT (64 MiB). */
int cli_input_limit_set(size_t max);
size_t cli_input_limit(void);
/* A size: bytes >= 1, with an optional K, M or G (KiB, MiB, GiB) suffix. */
int cli_parse_size(size_t *out, const char *text);
/* Check len bytes are valid UTF-8 without NUL (a C string cannot pass
 * U+0000 on); what names the value. Reports errors. */
int cli_check_text(const char *text, size_t len, const char *what);
/* Valid UTF-8 and a JSON object (what names the option). Reports errors. */
int cli_check_json_object(const char *json, const char *what);
/* Parse a positive integer option value (>= min). 0 on success. */
int cli_parse_int(int64_t *out, const char *text, int64_t min);

/* ---- output (util.c) ---- */

/* Print a compiled context in a rendering as `compile` does (text made
 * safe on a terminal, JSON pretty); CLI_OK or CLI_FAIL (reported). */
int cli_print_context(const tract_context *ctx, tract_format fmt, unsigned render_flags);
/* Print JSON text pretty on stdout with a final newline. */
int cli_print_json(const char *json);
/* cli_print_json of malloc'd text, then free it (NULL: out of memory); CLI_OK/CLI_FAIL. */
int cli_print_json_free(char *json);
/* Print the JSON document a library call made (rc its result; *json is
 * released), or its error; CLI_OK/CLI_FAIL. */
int cli_print_json_result(int rc, char **json);
/* Print a cJSON value pretty on stdout and delete it; CLI_OK/CLI_FAIL. */
struct cJSON;
int cli_print_cjson(struct cJSON *v);
/*
 * Text from the store or the user made safe for a terminal (control
 * characters, C1, bidi overrides and invalid UTF-8 shown as escapes, see
 * tract_text_sanitize): every human-readable output passes what it did not
 * write itself through cli_safe (one line) or cli_safe_ml (LF and TAB
 * kept). The copies live until cli_safe_release(); NULL gives "".
 */
const char *cli_safe(const char *text);
const char *cli_safe_ml(const char *text);
void cli_safe_release(void);
/* Colour escapes (empty when colours are off). */
const char *cli_c(const struct cli *cli, const char *sgr);
const char *cli_reset(const struct cli *cli);
/* Terminal width of stdout (80 when not a terminal). */
int cli_term_width(void);
/* Number of code points of a UTF-8 string. */
size_t cli_utf8_width(const char *s);
/* "YYYY-MM-DD HH:MM:SS" (len chars taken of it) into buf. */
char *cli_time_short(char *buf, size_t bufsize, tract_time t, size_t len);

#define CLI_SHORT_HASH 8

#endif
