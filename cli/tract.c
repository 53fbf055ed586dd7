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
     "  --at-time T     compile as of instant T (ISO 8601, UTC when no zone): the\n"
     "                  tract as it was then, also before a later reset, compress,\n"
     "                  rebase or switch (the ref log)\n"
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
    {"wait", cmd_wait, "[--tract ID] [--past REV] [--ref NAME] [--collapsed CHILD] [--timeout S] [--json]",
     "Block until the tract's HEAD (or a branch) moves past a commit.",
     "Returns as soon as the ref resolves to another commit than REV (default: where\n"
     "it is now), moved by any process or host sharing the store, and prints the new\n"
     "commit. Exits 1 with 'timed out' after S seconds. Polls the store with a\n"
     "backoff of 1 to 20 ms (no busy loop).\n"
     "\nOptions:\n"
     "  --tract ID     the tract to watch\n"
     "  --past REV     the commit to move past (default: the current one)\n"
     "  --ref NAME     watch branch NAME instead of HEAD\n"
     "  --collapsed CHILD  wait until a collapse of child tract CHILD is among the\n"
     "                 commits after REV (at once if one already is; other moves\n"
     "                 are waited past); prints the collapse commit\n"
     "  --timeout S    give up after S seconds (decimals allowed; default: never)\n"
     "  --json         {\"tract_id\": ..., \"head\": ...}; with --collapsed\n"
     "                 {\"tract_id\", \"child_tract_id\", \"collapse_commit\"}\n"},
    /* navigation (cmd_history.c) */
    {"reset", cmd_reset, "[--soft | --hard] REF",
     "Move HEAD (the current branch, or the detached HEAD) to REF.",
     "The previous position is saved as ORIG_HEAD ('tract reset ORIG_HEAD' undoes\n"
     "a reset). Commits left ahead stay in the store until gc. There is no\n"
     "working tree: --soft (the default) and --hard move HEAD the same way.\n"
     "\n"
     "REF is a revision: a full hash, a unique prefix (>= 4 hex digits), a\n"
     "branch, a tag, HEAD, ORIG_HEAD or PREV_HEAD, followed by any of ~N (N\n"
     "first parents), ^ (the first parent), ^N (parent N of a merge):\n"
     "HEAD~2, main^2~1.\n"
     "\nOptions:\n"
     "  --soft   move HEAD (default)\n"
     "  --hard   the same (accepted for git's habit)\n"
     "  -f, --force   accepted and ignored (the Python tract's CLI wanted it\n"
     "                with --hard)\n"},
    {"checkout", cmd_checkout, "REF | -",
     "Check out a branch (attach HEAD) or any revision (detached, read-only).",
     "A branch name attaches HEAD to the branch; any other revision detaches\n"
     "HEAD there: history can be read, commits are refused until you check out\n"
     "a branch. The position left is saved (PREV_HEAD, PREV_BRANCH); '-' goes\n"
     "back to it (detached at PREV_HEAD when its branch was deleted since).\n"},
    {"switch", cmd_switch, "[-c] BRANCH [START] | -",
     "Switch to a branch; with -c create it first (at START, default HEAD).",
     "Only branches: a commit or tag is refused (use checkout). '-' goes back to\n"
     "the previous position, like 'checkout -'.\n"
     "\nOptions:\n"
     "  -c, --create   create BRANCH at START (a revision; default HEAD)\n"},
    {"branch", cmd_branch, "[--json] | NAME [START] | -d [--force] NAME | -m OLD NEW",
     "List, create, delete or rename branches.",
     "Without arguments: every branch, the current one marked '*', its tip and\n"
     "how many commits it is ahead of and behind the default branch (main).\n"
     "NAME [START] creates branch NAME at START (a revision; default HEAD)\n"
     "without switching to it. Names follow git's rules (no spaces, control\n"
     "characters, '..', '~', '^', ':', '?', '*', '[', '\\', '@{', ...).\n"
     "\nOptions:\n"
     "  -d, --delete   delete branch NAME (refused when HEAD's history lacks its\n"
     "                 commits, unless --force; never the current branch)\n"
     "  -D             -d --force\n"
     "  -f, --force    with -d: delete even when unmerged\n"
     "  -m, --move     rename OLD to NEW (HEAD follows)\n"
     "  --json         list as JSON: [{name, commit_hash, current, ahead, behind}]\n"},
    {"tag", cmd_tag, "[--json] | NAME [REV] | -d NAME",
     "List, create or delete tags (names for commits).",
     "Without arguments: every tag and the commit it names. NAME [REV] tags REV\n"
     "(a revision; default HEAD). Tags are revisions (tract show v1, v1~2),\n"
     "clone copies them and gc keeps what they name.\n"
     "\nOptions:\n"
     "  -d, --delete   delete tag NAME\n"
     "  --json         list as JSON: [{name, commit_hash}]\n"},
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
    {"compact-tools", cmd_compact_tools,
     "[--keep-turns N] [--min-bytes N] [--max-bytes N] [--drop-failed] [--dry-run] [--json]",
     "Replace old tool output by short stubs (edit commits; originals stay in history).",
     "Each tool result before the last N turns (a turn: one model step, its calls\n"
     "and their results) becomes an edit commit keeping the tool name, call id and\n"
     "status, whose payload is {\"text\": \"[compacted tool output: FIRST LINE] (N\n"
     "bytes)\"}; every call keeps its result, so request bodies stay valid. Running\n"
     "it again does nothing. Everything happens in one transaction.\n"
     "\nOptions:\n"
     "  --keep-turns N   keep the results of the last N turns (default 2; 0: none)\n"
     "  --min-bytes N    only results of at least N bytes\n"
     "  --max-bytes N    also results longer than N bytes inside the kept turns\n"
     "  --drop-failed    drop old failed results (status error) with their calls\n"
     "                   (SKIP annotations) instead of stubbing them\n"
     "  --dry-run        show what would be compacted, write nothing\n"
     "  --json           machine-readable result\n"},
    {"budget", cmd_budget,
     "[N | --off] [--auto-compact | --auto-compress | --no-auto-compact] [--target-fraction F] [--json]",
     "Show or set the tract's token budget (persisted in the store).",
     "Without arguments, show the budget and the compiled context's token count.\n"
     "N sets the budget to N tokens (a commit whose compiled context would exceed it\n"
     "warns); --off removes it. `status` shows usage against it.\n"
     "\nOptions:\n"
     "  --off               remove the budget\n"
     "  --auto-compact      when a commit would exceed the budget, first compact\n"
     "                      old tool results (compact-tools' defaults, then every\n"
     "                      turn with failed calls dropped) in the commit's\n"
     "                      transaction; written only when that gets under the\n"
     "                      budget (persisted)\n"
     "  --auto-compress     --auto-compact, and when compaction is not enough,\n"
     "                      compress the oldest normal commits (pinned ones kept\n"
     "                      verbatim) down to the target fraction of the budget,\n"
     "                      the summaries written by the tract's stored provider\n"
     "                      (generate --provider NAME --save); without one, or\n"
     "                      when it cannot get under the budget, nothing is\n"
     "                      compressed and the commit warns (persisted)\n"
     "  --no-auto-compact   turn either policy off\n"
     "  --target-fraction F the fraction of the budget auto-compress aims at,\n"
     "                      0 < F <= 1 (default 0.5, persisted)\n"
     "  --json              {\"max_tokens\": N or null, \"token_count\": N,\n"
     "                      \"auto_compact\": BOOL, \"auto_compress\": BOOL,\n"
     "                      \"target_fraction\": F}\n"},
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
    {"merge", cmd_merge,
     "[--no-ff] [--strategy ours|theirs | --llm [--provider P] [--model M]] [--json] BRANCH",
     "Merge BRANCH into the current branch.",
     "Fast-forwards when the current branch is behind BRANCH (unless --no-ff);\n"
     "otherwise makes a merge commit with both parents. Conflicting changes\n"
     "(both branches edited a commit, one skipped what the other edited, an\n"
     "edit of shared history beside new commits) stop the merge: each is\n"
     "listed with the commit of each side, nothing is written, and the exit\n"
     "status is 1. Nothing is written until a merge commits, so there is\n"
     "nothing to abort.\n"
     "\nOptions:\n"
     "  --no-ff               make a merge commit even when a fast-forward is possible\n"
     "  --strategy S          resolve every conflict one way and commit: ours (the\n"
     "                        current branch's version) or theirs (BRANCH's)\n"
     "  --json                the merge result as a JSON object (exit 1 when\n"
     "                        conflicts remain)\n"
     "  --llm                 ask the LLM resolver about each conflict and commit its\n"
     "                        answers\n"
     "                        (agents.md 4.4); nothing is written when the\n"
     "                        provider fails\n"
     "  --provider LIST       with --llm: provider (else TRACT_PROVIDER, else the\n"
     "                        tract's saved one; see 'generate')\n"
     "  --model M             with --llm: model (else TRACT_MODEL, the saved one)\n"
     "  -o, --option K=V      with --llm: a provider option (api_key, base_url...)\n"},
    /* history rewriting (cmd_replay.c) */
    {"cherry-pick", cmd_cherry_pick, "[--json] [--llm [--provider P] [--model M]] REF",
     "Copy one commit onto the current branch.",
     "REF is a full hash, a branch name (its tip) or a unique prefix (>= 4 hex\n"
     "digits). The copy keeps the content, message, metadata, generation config\n"
     "and explicit annotation (skip, pinned...) of the original, with a new\n"
     "timestamp and the current HEAD as parent; an edit keeps its target. An\n"
     "edit whose target is not in the current branch's history is an issue:\n"
     "the command lists it and fails (exit 1) without writing anything.\n"
     "Refused in detached HEAD state.\n"
     "\nOptions:\n"
     "  --json                machine-readable output\n"
     "  --llm                 ask the LLM resolver about each issue: its answer is\n"
     "                        committed as an append of that text\n"
     "                        (agents.md 4.4); nothing is written when the\n"
     "                        provider fails\n"
     "  --provider LIST       with --llm: provider (else TRACT_PROVIDER, else the\n"
     "                        tract's saved one; see 'generate')\n"
     "  --model M             with --llm: model (else TRACT_MODEL, the saved one)\n"
     "  -o, --option K=V      with --llm: a provider option (api_key, base_url...)\n"},
    {"rebase", cmd_rebase, "[--json] [--llm [--provider P] [--model M]] ONTO",
     "Replay the current branch's own commits on top of ONTO.",
     "ONTO is a branch name (or any revision). The commits reachable from HEAD\n"
     "and not from ONTO are copied, oldest first, on top of ONTO's tip, and the\n"
     "current branch is moved to the last copy, all in one transaction. Edits\n"
     "of replayed commits follow their copies; explicit annotations are kept.\n"
     "A branch strictly behind ONTO is fast-forwarded; one that already\n"
     "contains ONTO is left alone. An edit whose target is neither replayed\n"
     "nor in ONTO's history is a warning: the command lists the warnings and\n"
     "fails (exit 1) without writing anything. Merge commits in the range are\n"
     "refused. Refused in detached HEAD state.\n"
     "\nOptions:\n"
     "  --json                machine-readable output\n"
     "  --llm                 ask the LLM resolver about each warning: the edit is\n"
     "                        replayed as an append of its answer\n"
     "                        (agents.md 4.4); nothing is written when the\n"
     "                        provider fails\n"
     "  --provider LIST       with --llm: provider (else TRACT_PROVIDER, else the\n"
     "                        tract's saved one; see 'generate')\n"
     "  --model M             with --llm: model (else TRACT_MODEL, the saved one)\n"
     "  -o, --option K=V      with --llm: a provider option (api_key, base_url...)\n"},
    {"generate", cmd_generate,
     "[--provider NAME[,NAME...]] [--model M] [--stream] [--tools FILE] [options]",
     "Call the LLM provider on the compiled context and commit its reply.",
     "Compiles HEAD, sends it to the provider (or the first of a fallback list\n"
     "that answers, each with retries on rate limits, 5xx and connection\n"
     "failures), commits the reply once it is complete (its text as an\n"
     "assistant message, each tool call as a tool-call commit with the model's\n"
     "call id) with its generation config and usage, and prints it. Answer a\n"
     "tool call with 'tract commit tool-result --tool NAME --call-id ID TEXT',\n"
     "then generate again. Nothing is committed when the call fails or a\n"
     "stream is interrupted.\n"
     "\n"
     "Provider: --provider, else TRACT_PROVIDER, else the tract's saved one.\n"
     "Model: --model, else TRACT_MODEL, else the saved one, else the provider's\n"
     "default. API keys: -o api_key=KEY or the provider's environment variables\n"
     "(never stored). 'example' is an offline provider that needs no key.\n"
     "\n"
     "Options:\n"
     "  --provider LIST     provider name, or names separated by commas (fallback)\n"
     "  --model M           model name\n"
     "  --stream            print the text as it arrives (committed once complete)\n"
     "  --tools FILE        tool definitions offered: a JSON array in OpenAI's\n"
     "                      function format ('-' = stdin)\n"
     "  --tool-choice C     auto, none, required or a tool's name\n"
     "  --temperature T     sampling temperature (0 to 100)\n"
     "  --max-tokens N      longest reply in tokens\n"
     "  -o, --option K=V    a provider option (api_key, base_url, timeout...);\n"
     "                      NAME.K=V for provider NAME only; repeatable\n"
     "  --retries N         retries after the first attempt (default 2)\n"
     "  --timeout S         seconds per attempt\n"
     "  -m, --message MSG   commit message of the reply\n"
     "  --reasoning         send the reasoning commits too\n"
     "  --save              store --provider/--model as the tract's defaults\n"
     "  --max-size SIZE     refuse a --tools file larger than SIZE bytes (K, M, G)\n"
     "  --json              {commits, provider, model, text, tool_calls,\n"
     "                      finish_reason, usage, attempts}\n"
     "\n"
     "TRACT_DEBUG=1 logs each attempt on standard error (without secrets).\n"},
    /* ---- multi-agent (cmd_agents.c) ---- */
    {"spawn", cmd_spawn,
     "--purpose TEXT [--inherit head_snapshot|full_clone|selective] [options]",
     "Spawn a child tract of the current tract; prints the child's id.",
     "Creates a child tract with a spawn pointer to the current tract, gives it\n"
     "the inherited context and commits \"Spawned subagent for: PURPOSE\" in\n"
     "the parent, all in one transaction.\n"
     "\nInheritance:\n"
     "  head_snapshot  one pinned instruction holding the parent's compiled\n"
     "                 context as \"[role]: content\" lines (default)\n"
     "  full_clone     a copy of every commit of the parent: every branch, tag,\n"
     "                 edit and annotation\n"
     "  selective      the commits named with --commit and those of the current\n"
     "                 branch whose content type is given with --type\n"
     "\nOptions:\n"
     "  --purpose TEXT     what the child is for (required)\n"
     "  --inherit MODE     head_snapshot, full_clone or selective\n"
     "  --name NAME        the child's display name\n"
     "  --id ID            the child's id (default: a random one)\n"
     "  --max-tokens N     head_snapshot: drop the oldest non-pinned messages\n"
     "                     first until the inherited text fits N tokens\n"
     "  --commit REF       selective: a parent commit to carry (repeatable)\n"
     "  --type TYPE        selective: carry commits of this content type\n"
     "                     (repeatable); --commit/--type imply selective\n"
     "  --json             the spawn pointer as a JSON object\n"},
    {"collapse", cmd_collapse,
     "CHILD (--summary TEXT|- | --llm [--provider P]) [--review] [options]",
     "Summarize a child's work into the current tract (its parent).",
     "Summarizes the child's work since its previous collapse and commits the\n"
     "summary in the parent as an assistant message \"collapse: PURPOSE\" whose\n"
     "metadata names the child and the child commit summarized. The current\n"
     "tract must be the child's parent. --summary never calls an LLM; --llm asks\n"
     "the provider (--provider, else TRACT_PROVIDER, else the saved one;\n"
     "'example' is offline). --review stores a draft instead of committing:\n"
     "approve it (from any process) with --approve ID [--summary TEXT], or\n"
     "drop it with --discard ID; --drafts lists them.\n"
     "\nOptions:\n"
     "  --summary TEXT|-     the summary ('-' reads standard input)\n"
     "  --llm                write the summary with the LLM provider\n"
     "  --provider NAME      the provider (implies --llm)\n"
     "  --review             store a draft (collaborative) instead of committing\n"
     "  --instructions TEXT  extra instructions for the LLM\n"
     "  --target-tokens N    target length for the LLM\n"
     "  --approve ID         commit a stored draft (--summary replaces its text)\n"
     "  --discard ID         remove a stored draft\n"
     "  --drafts             list the stored drafts of the current tract\n"
     "  --json               the collapse result as a JSON object\n"},
    {"expand", cmd_expand, "[--json] REF",
     "Show the child tract and the commits a collapse commit summarized.",
     "REF is a collapse commit's hash or a prefix of at least 4 hex digits,\n"
     "looked up in the whole store.\n"
     "\nOptions:\n"
     "  --json   {collapse_commit, parent_tract_id, child_tract_id, purpose,\n"
     "           source_head, since_head, commits: [log --json objects + content]}\n"},
    {"resume", cmd_resume, "[--json]",
     "Print the id of the tract to continue.",
     "The most recently active tract that is not ended (its latest session\n"
     "commit on the current branch is not an 'end'), a root tract before any\n"
     "child tract. Exits 1 when there is none.\n"
     "\nOptions:\n"
     "  --json   the tract's `tracts --json` object\n"},
    {"session", cmd_session,
     "start|end|handoff|checkpoint SUMMARY [--decision T]... [--failed T]... [--next T]...",
     "Commit a session boundary (auto-pinned).",
     "Commits a session content (session_type, summary, decisions,\n"
     "failed_approaches, next_steps); prints its hash. A tract whose latest\n"
     "session commit is an 'end' is not picked by `tract resume`.\n"
     "\nOptions:\n"
     "  --decision TEXT   a decision taken (repeatable)\n"
     "  --failed TEXT     an approach that failed (repeatable)\n"
     "  --next TEXT       a next step (repeatable)\n"
     "  -m, --message MSG commit message\n"
     "  --json            the commit as a log --json object\n"},
    {"plugins", cmd_plugins, "[--json]",
     "List the backend and provider plugins found, with paths and ABI versions.",
     "Options:\n"
     "  --json   machine-readable output\n"},
    {"compress", cmd_compress,
     "[RANGE] [--summary TEXT]... [--llm] [--target-tokens N] [--preserve REF]... [--review] [--dry-run]",
     "Replace a stretch of history with summaries (pinned commits kept).",
     "RANGE is FROM..TO (both inclusive; either side may be empty: the root,\n"
     "HEAD) or REV (the root through REV); without RANGE the whole branch.\n"
     "Commits annotated pinned (and --preserve REF) are kept verbatim and split\n"
     "the range into groups; skip commits are dropped; every other commit is\n"
     "summarized, one summary per group. Commits after the range are replayed\n"
     "on top. Everything is written in one transaction with its provenance.\n"
     "Merge commits in or after the range are refused, as is detached HEAD.\n"
     "\nOptions:\n"
     "  --summary TEXT      manual summary; give it once per group, in order\n"
     "  --llm               summarize with the LLM provider (one call per group)\n"
     "  --provider LIST     provider for --llm (else TRACT_PROVIDER, else the\n"
     "                      tract's saved one)\n"
     "  --target-tokens N   length hint for the LLM (stored in the record)\n"
     "  --instructions TEXT extra LLM instructions (stored in the record)\n"
     "  --preserve REF      keep this commit verbatim for this call\n"
     "  --review            store a pending compression, print its id; nothing\n"
     "                      else is written until --approve\n"
     "  --dry-run           print the groups (with --llm, the drafts); write nothing\n"
     "  --approve ID        write a pending compression (fails if its range changed)\n"
     "  --discard ID        drop a pending compression\n"
     "  --show ID           print a pending compression\n"
     "  --list              list pending compression ids\n"
     "  --records           the compressions done: sources and summaries\n"
     "  --json              machine-readable output\n"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_usage[] = "usage: tract [--db URI] [--tract ID] COMMAND [ARGS]\n";

static void print_help(FILE *f)
{
	int width = 10;

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
	/* the summaries in one column, after the longest name */
	for (size_t i = 0; i < NCOMMANDS; i++)
		if ((int)strlen(commands[i].name) > width)
			width = (int)strlen(commands[i].name);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-*s  %s\n", width, commands[i].name, commands[i].summary);
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
