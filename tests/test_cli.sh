#!/usr/bin/env bash
# test_cli.sh - end-to-end tests of the `tract` command (CLI.md): every
# command of the first CLI issue, the --json shapes, exit codes, one-line
# errors that write nothing, and compiles of the reference's fixture files.
# Usage: test_cli.sh PATH/TO/tract   (TRACT_FIXTURES: fixture directory)
set -euo pipefail

TRACT=${1:?usage: test_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
unset TRACT_DB TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-cli-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# ---- helpers -------------------------------------------------------------

cat >"$TMP/jv.py" <<'EOF'
import json, os, re, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1], {"d": d, "E": os.environ, "json": json, "re": re})
print(r if isinstance(r, str) else json.dumps(r))
EOF

# Row counts of every table of a SQLite store (empty when python3 lacks sqlite3).
cat >"$TMP/rows.py" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for (t,) in c.execute("select name from sqlite_master where type='table' order by name"):
    print(t, c.execute('select count(*) from "%s"' % t).fetchone()[0])
EOF
HAVE_SQLITE=0
python3 -c 'import sqlite3' 2>/dev/null && HAVE_SQLITE=1

# Compare a compile --json (stdin) with a fixture's compile_decided.
cat >"$TMP/cmp.py" <<'EOF'
import json, sys
exp_all = json.load(open(sys.argv[1]))
tid = sys.argv[2]
got = json.load(sys.stdin)
tr = [t for t in exp_all["tracts"] if t["tract_id"] == tid][0]
hr = tr.get("head_result")
exp = hr["compile_decided"] if hr else {"messages": [], "commit_hashes": []}
def norm(ms):
    return [{k: m[k] for k in ("role", "content", "name") if k in m} for m in ms]
errs = []
if norm(got["messages"]) != norm(exp["messages"]):
    errs.append("messages differ:\n got %s\n want %s" % (
        json.dumps(norm(got["messages"]))[:2000], json.dumps(norm(exp["messages"]))[:2000]))
if got["commit_hashes"] != exp["commit_hashes"]:
    errs.append("commit_hashes differ: got %s want %s" % (got["commit_hashes"], exp["commit_hashes"]))
if len(got["generation_configs"]) != len(got["messages"]) or got["commit_count"] != len(got["messages"]):
    errs.append("generation_configs/commit_count not parallel to messages")
if errs:
    print("\n".join(errs), file=sys.stderr)
    sys.exit(1)
EOF

# jval EXPR: print the value of a Python expression over $OUT.
jval() {
	printf '%s' "$OUT" | python3 "$TMP/jv.py" "$1"
}

# match DESC TEXT REGEX
match() {
	if [[ $2 =~ $3 ]]; then ok; else bad "$1: [$2] does not match /$3/"; fi
}

# State of the current store for "nothing written": the length of its log
# (rows of every table are compared around whole blocks, see rows_snapshot).
snapshot() {
	{ "$TRACT" log --all --oneline 2>/dev/null || echo "(no log)"; } | wc -l
}

# Row counts of every table of a store (empty without python3's sqlite3).
rows_snapshot() {
	if [[ $HAVE_SQLITE -eq 1 && -e $1 ]]; then python3 "$TMP/rows.py" "$1"; fi
}

# commit_ok VAR ARGS...: `tract commit ARGS`, prints a full hash; VAR := it (exported).
commit_ok() {
	local var=$1
	shift
	run commit "$@"
	if [[ $RC -eq 0 && $OUT =~ ^[0-9a-f]{64}$ ]]; then
		ok
	else
		bad "commit $*: exit $RC, out [$OUT], err [$ERR]"
	fi
	printf -v "$var" '%s' "$OUT"
	export "${var?}"
}

# ---- global behaviour ----------------------------------------------------

expect_ok "--help" --help
contains "--help lists commit" "$OUT" "commit"
for c in init commit log show status compile annotate tracts tokens fsck plugins; do
	expect_ok "$c --help" "$c" --help
	contains "$c --help usage" "$OUT" "usage: tract $c"
done
expect_ok "help log" help log
contains "help log" "$OUT" "usage: tract log"
expect_ok "--version" --version
run
eq "no command exits 2" "$RC" 2
expect_usage "unknown command" frobnicate
expect_usage "unknown global option" --bogus status
expect_usage "global option after the command" status --db x.db
expect_usage "--db without value" --db

# ---- missing store: read commands fail and create nothing ----------------

for cmd in status log compile tracts fsck "show abcd" "commit user hi" "annotate abcd skip"; do
	# shellcheck disable=SC2086
	expect_fail "$cmd on a missing store" --db "$TMP/missing.db" $cmd
	contains "$cmd: store not found" "$ERR" "store not found"
done
expect_fail "--tract on a missing store" --db "$TMP/missing.db" --tract abc status
if [[ -e $TMP/missing.db ]]; then bad "missing store was created"; else ok; fi
TRACT_DB=$TMP/missing2.db expect_fail "TRACT_DB missing store" status
if [[ -e $TMP/missing2.db ]]; then bad "missing store (TRACT_DB) was created"; else ok; fi

# ---- init and an empty tract ---------------------------------------------

export TRACT_DB=$TMP/main.db
expect_ok "init" init --name "main tract"
match "init prints a 32-hex id" "$OUT" '^[0-9a-f]{32}$'
export ID1=$OUT

expect_ok "status --json (empty)" status --json
jtrue "empty status" 'd["tract_id"] == E["ID1"] and d["head"] is None and d["commit_count"] == 0 and d["token_count"] == 0 and d["detached"] is False and d["max_tokens"] is None'
expect_ok "status (empty)" status
contains "empty status text" "$OUT" "No commits yet."
expect_ok "log (empty)" log
eq "empty log" "$OUT" "No commits."
expect_ok "log --json (empty)" log --json
jtrue "empty log json" 'd == []'
expect_ok "compile --json (empty)" compile --json
jtrue "empty compile" 'd["messages"] == [] and d["commit_hashes"] == [] and d["token_count"] == 0'

# ---- commits of every kind -----------------------------------------------

commit_ok H_INS instruction "You are helpful."
if [[ $HAVE_SQLITE -eq 1 ]]; then
	ROWS=$(rows_snapshot "$TRACT_DB")
	if [[ $'\n'$ROWS$'\n' == *$'\n'"commits 1"$'\n'* ]]; then ok; else bad "rows.py cannot read the store: $ROWS"; fi
fi
commit_ok H_USER user "Hello" -m "first question" --metadata '{"k": 1}'
commit_ok H_ASST assistant "Hi there" --config '{"temperature": 0.7}'
commit_ok H_SYS system "Be brief."
commit_ok H_NAMED --name alice user "I am Alice"
printf 'from stdin\nline two' >"$TMP/stdin.txt"
STDIN=$TMP/stdin.txt commit_ok H_STDIN user -
commit_ok H_TCALL tool_io --json '{"tool_name": "calc", "direction": "call", "payload": {"x": 1}}'
commit_ok H_TRES tool_io --json '{"tool_name": "calc", "direction": "result", "payload": {"result": 2}, "status": "success"}'
commit_ok H_REAS reasoning --json '{"text": "thinking it over"}'
printf '{"artifact_type": "code", "content": "print(1)", "language": "python"}' >"$TMP/art.json"
commit_ok H_ART artifact --file "$TMP/art.json"
commit_ok H_OUT output --json '{"text": "done", "format": "markdown"}'
commit_ok H_FREE freeform --json '{"payload": {"a": [1, 2]}}'
commit_ok H_SESS session --json '{"session_type": "checkpoint", "summary": "half way", "decisions": ["a"]}'
commit_ok H_DLG dialogue --json '{"role": "user", "text": "via json", "name": "bob"}'
commit_ok H_INS2 instruction --json '{"content_type": "instruction", "text": "Second rule."}'
commit_ok H_UJ user --json '{"text": "user via json"}'
printf '{"content_type": "dialogue", "role": "assistant", "text": "from a stdin file"}' >"$TMP/dlg.json"
STDIN=$TMP/dlg.json commit_ok H_FSTDIN dialogue --file -
NCOMMITS=17

# ---- input size limit (--max-size / TRACT_MAX_CONTENT) --------------------
# A separate store: the at-the-limit commit does not count in NCOMMITS.
L=(--db "$TMP/limit.db")
expect_ok "init the limit store" "${L[@]}" init
head -c 2049 /dev/zero | tr '\0' a >"$TMP/2k1.txt"
head -c 2048 /dev/zero | tr '\0' a >"$TMP/2k.txt"
STDIN=$TMP/2k1.txt expect_fail "stdin over --max-size" "${L[@]}" commit user --max-size 2K -
eq "stdin over --max-size message" "$ERR" \
	"tract: standard input is larger than the maximum of 2 KiB (--max-size / TRACT_MAX_CONTENT)"
STDIN=$TMP/2k.txt expect_ok "stdin at --max-size" "${L[@]}" commit user --max-size 2K -
printf '{"role": "user", "text": "%s"}' "$(cat "$TMP/2k.txt")" >"$TMP/2k.json"
TRACT_MAX_CONTENT=1K expect_fail "--file over TRACT_MAX_CONTENT" "${L[@]}" commit dialogue \
	--file "$TMP/2k.json"
contains "--file over TRACT_MAX_CONTENT message" "$ERR" "is larger than the maximum of 1 KiB"
TRACT_MAX_CONTENT=1M expect_ok "--file under TRACT_MAX_CONTENT" "${L[@]}" commit dialogue \
	--file "$TMP/2k.json"
expect_usage "--max-size 0" "${L[@]}" commit user --max-size 0 hi
expect_usage "--max-size junk" "${L[@]}" commit user --max-size 12X hi
TRACT_MAX_CONTENT=junk expect_fail "TRACT_MAX_CONTENT junk" "${L[@]}" commit user hi
# An endless input is refused once the byte past the limit is read.
RC=0
yes | timeout 60 "$TRACT" "${L[@]}" commit user --max-size 1M - >/dev/null 2>"$TMP/err" || RC=$?
eq "endless stdin refused" "$RC:$(cat "$TMP/err")" \
	"1:tract: standard input is larger than the maximum of 1 MiB (--max-size / TRACT_MAX_CONTENT)"
# The issue's case: /dev/zero on stdin, the default limit (64 MiB), memory
# near the limit, not growing with the input.
RC=0
if [[ -x /usr/bin/time ]]; then
	/usr/bin/time -f '%M' -o "$TMP/rss" timeout 120 "$TRACT" "${L[@]}" commit user - \
		</dev/zero >/dev/null 2>"$TMP/err" || RC=$?
	RSS=$(tail -n 1 "$TMP/rss")
	if [[ $RSS =~ ^[0-9]+$ && $RSS -lt 600000 ]]; then ok; else bad "/dev/zero peak RSS ${RSS} KiB"; fi
else
	timeout 120 "$TRACT" "${L[@]}" commit user - </dev/zero >/dev/null 2>"$TMP/err" || RC=$?
fi
eq "/dev/zero refused" "$RC:$(cat "$TMP/err")" \
	"1:tract: standard input is larger than the maximum of 64 MiB (--max-size / TRACT_MAX_CONTENT)"

# ---- compile -------------------------------------------------------------

expect_ok "compile --json" compile --json
jtrue \
	"compile keys" 'set(["messages", "token_count", "commit_count", "token_source", "commit_hashes", "generation_configs"]) <= set(d)' \
	"compile roles" '[m["role"] for m in d["messages"]] == ["system", "user", "assistant", "system", "user", "user", "tool", "tool", "assistant", "assistant", "assistant", "assistant", "system", "user", "system", "user", "assistant"]' \
	"compile contents (text kinds)" '[m["content"] for m in d["messages"]][:6] == ["You are helpful.", "Hello", "Hi there", "Be brief.", "I am Alice", "from stdin\nline two"]' \
	"compile tool call" 'd["messages"][6]["content"] == "Tool call: calc\n{\n  \"x\": 1\n}"' \
	"compile tool result" 'd["messages"][7]["content"] == "Tool result: calc (success)\n{\n  \"result\": 2\n}"' \
	"compile reasoning/artifact/output" '[m["content"] for m in d["messages"]][8:11] == ["thinking it over", "print(1)", "done"]' \
	"compile freeform" 'd["messages"][11]["content"] == "{\n  \"a\": [\n    1,\n    2\n  ]\n}"' \
	"compile session" 'd["messages"][12]["content"] == "{\"content_type\": \"session\", \"decisions\": [\"a\"], \"failed_approaches\": [], \"next_steps\": [], \"session_type\": \"checkpoint\", \"summary\": \"half way\"}"' \
	"compile last contents" '[m["content"] for m in d["messages"]][13:] == ["via json", "Second rule.", "user via json", "from a stdin file"]' \
	"compile names" '[m.get("name") for m in d["messages"]] == [None, None, None, None, "alice"] + [None] * 8 + ["bob", None, None, None]' \
	"name only when set" '"name" not in d["messages"][0]' \
	"compile commit_hashes" 'd["commit_hashes"] == [E[v] for v in "H_INS H_USER H_ASST H_SYS H_NAMED H_STDIN H_TCALL H_TRES H_REAS H_ART H_OUT H_FREE H_SESS H_DLG H_INS2 H_UJ H_FSTDIN".split()]' \
	"compile generation_configs" 'd["generation_configs"] == [{}, {}, {"temperature": 0.7}] + [{}] * 14' \
	"compile counts" 'd["commit_count"] == 17 and isinstance(d["token_count"], int) and d["token_count"] > 0 and isinstance(d["token_source"], str)'
COMPILED=$OUT

expect_ok "compile --format json" compile --format json
eq "--format json = --json" "$OUT" "$COMPILED"
expect_ok "compile --format openai" compile --format openai
jtrue \
	"openai is the body's messages (reasoning left out)" 'list(d) == ["messages"] and len(d["messages"]) == 16 and all("role" in m for m in d["messages"])' \
	"openai contents" 'd["messages"][0]["content"] == "You are helpful." and d["messages"][4].get("name") == "alice"' \
	"openai tool call with a derived id" '[m["tool_calls"] for m in d["messages"] if "tool_calls" in m] == [[{"id": "call_" + E["H_TCALL"][:24], "type": "function", "function": {"name": "calc", "arguments": "{\"x\":1}"}}]]' \
	"openai tool result" '[m for m in d["messages"] if m["role"] == "tool"] == [{"role": "tool", "content": "{\"result\":2}", "tool_call_id": "call_" + E["H_TCALL"][:24]}]' \
	"openai without reasoning" '"thinking it over" not in json.dumps(d)'
expect_ok "compile --format openai --reasoning" compile --format openai --reasoning
jtrue "openai with reasoning" 'len(d["messages"]) == 17 and {"role": "assistant", "content": "thinking it over"} in d["messages"]'
expect_usage "--reasoning without a provider format" compile --reasoning
expect_ok "compile --format anthropic" compile --format anthropic
jtrue "anthropic shape" 'isinstance(d, dict) and isinstance(d.get("messages"), list) and "You are helpful." in json.dumps(d.get("system"))'
expect_ok "compile --format text" compile --format text
contains "text format role" "$OUT" "[system]"
contains "text format content" "$OUT" "You are helpful."
contains "text format user" "$OUT" "[user]"
TEXT_OUT=$OUT
expect_ok "compile (default text)" compile
eq "default format is text" "$OUT" "$TEXT_OUT"
expect_ok "compile --at" compile --json --at "$H_USER"
jtrue "compile --at" 'd["commit_hashes"] == [E["H_INS"], E["H_USER"]]'
expect_ok "compile --at prefix" compile --json --at "${H_ASST:0:10}"
jtrue "compile --at prefix" 'd["commit_hashes"][-1] == E["H_ASST"] and len(d["messages"]) == 3'
expect_ok "compile --at-time (past)" compile --json --at-time 2000-01-01T00:00:00Z
jtrue "compile --at-time past is empty" 'd["messages"] == []'
expect_ok "compile --at-time (future)" compile --json --at-time "2999-01-01 00:00:00+00:00"
jtrue "compile --at-time future is everything" 'len(d["messages"]) == 17'

# ---- edit ----------------------------------------------------------------

commit_ok H_EDIT assistant "Hi there, edited" --edit "$H_ASST"
NCOMMITS=18
expect_ok "compile after edit" compile --json
jtrue \
	"edit replaces the message" 'd["messages"][2] == {"role": "assistant", "content": "Hi there, edited"}' \
	"edit keeps the original hash" 'd["commit_hashes"][2] == E["H_ASST"] and len(d["messages"]) == 17' \
	"edit keeps the config" 'd["generation_configs"][2] == {"temperature": 0.7}'
expect_ok "compile --edit-markers" compile --json --edit-markers
jtrue "edit marker" 'd["messages"][2]["content"] == "Hi there, edited [edited]" and d["messages"][1]["content"] == "Hello"'

# ---- annotate ------------------------------------------------------------

expect_ok "annotate skip" annotate "$H_USER" skip --reason "not needed"
contains "annotate output" "$OUT" "${H_USER:0:8}"
expect_ok "compile after skip" compile --json
jtrue "skip removes the message" 'E["H_USER"] not in d["commit_hashes"] and len(d["messages"]) == 16 and "Hello" not in [m["content"] for m in d["messages"]]'
expect_ok "show skipped commit" show "$H_USER"
contains "show priority" "$OUT" "skip"
expect_ok "annotate normal" annotate "${H_USER:0:8}" normal
expect_ok "compile after normal" compile --json
jtrue "normal restores it" 'd["commit_hashes"][1] == E["H_USER"] and len(d["messages"]) == 17'
expect_ok "annotate pinned" annotate "$H_SYS" pinned
expect_usage "annotate bad priority" annotate "$H_SYS" important
expect_usage "annotate missing priority" annotate "$H_SYS"
expect_fail "annotate unknown commit" annotate ffffffffffff skip

# ---- log -----------------------------------------------------------------

expect_ok "log --json --all" log --json --all
jtrue \
	"log length" "len(d) == $NCOMMITS" \
	"log newest first" 'd[0]["commit_hash"] == E["H_EDIT"] and d[-1]["commit_hash"] == E["H_INS"]' \
	"log fields" 'all(set(["commit_hash", "parent_hash", "content_type", "operation", "response_to", "message", "token_count", "created_at", "metadata", "generation_config"]) <= set(c) for c in d)' \
	"log parent chain" 'all(d[i]["parent_hash"] == d[i + 1]["commit_hash"] for i in range(len(d) - 1)) and d[-1]["parent_hash"] is None' \
	"log created_at format" 'all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", c["created_at"]) for c in d)' \
	"log created_at increasing" 'all(d[i]["created_at"] > d[i + 1]["created_at"] for i in range(len(d) - 1))' \
	"log edit row" 'd[0]["operation"] == "edit" and d[0]["response_to"] == E["H_ASST"] and d[0]["content_type"] == "dialogue"' \
	"log message/metadata" '[c for c in d if c["commit_hash"] == E["H_USER"]][0]["message"] == "first question" and [c for c in d if c["commit_hash"] == E["H_USER"]][0]["metadata"] == {"k": 1}' \
	"log generation_config" '[c for c in d if c["commit_hash"] == E["H_ASST"]][0]["generation_config"] == {"temperature": 0.7} and d[-1]["generation_config"] is None and d[-1]["metadata"] is None and d[-1]["message"] is None' \
	"log content types" '[c["content_type"] for c in reversed(d)] == ["instruction"] + ["dialogue"] * 5 + ["tool_io", "tool_io", "reasoning", "artifact", "output", "freeform", "session", "dialogue", "instruction", "dialogue", "dialogue", "dialogue"]' \
	"log token counts" 'all(isinstance(c["token_count"], int) and c["token_count"] >= 0 for c in d)'
export CREATED_USER
CREATED_USER=$(jval '[c for c in d if c["commit_hash"] == E["H_USER"]][0]["created_at"]')
expect_ok "log -n 2 --json" log -n 2 --json
jtrue "log -n limit" 'len(d) == 2 and d[1]["commit_hash"] == E["H_FSTDIN"]'
expect_ok "log default limit" log --json
jtrue "log default limit is 20" 'len(d) == min(20, '"$NCOMMITS"')'
expect_ok "log --op edit" log --json --op edit
jtrue "log --op edit" '[c["commit_hash"] for c in d] == [E["H_EDIT"]]'
expect_ok "log --op APPEND -n 3" log --json --op APPEND -n 3
jtrue "log --op append" '[c["operation"] for c in d] == ["append"] * 3 and d[0]["commit_hash"] == E["H_FSTDIN"]'
expect_ok "log REF" log --json "$H_USER"
jtrue "log from REF" '[c["commit_hash"] for c in d] == [E["H_USER"], E["H_INS"]]'
expect_ok "log table" log -n 3
eq "log table lines" "$(printf '%s\n' "$OUT" | wc -l)" 4
match "log table header" "${OUT%%$'\n'*}" '^Hash +Time +Op +Tokens +Message'
match "log table row" "$(printf '%s\n' "$OUT" | sed -n 2p)" "^${H_EDIT:0:8} +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} +edit +[0-9]+ *"
expect_ok "log table message" log -n 1 "$H_USER"
match "log message column" "$(printf '%s\n' "$OUT" | sed -n 2p)" "append +[0-9]+ +first question$"
expect_ok "log --oneline" log --oneline -n 1
eq "oneline preview" "$OUT" "${H_EDIT:0:8} dialogue Hi there, edited"
expect_ok "log --oneline message" log --oneline -n 1 "$H_USER"
eq "oneline message" "$OUT" "${H_USER:0:8} dialogue first question"
expect_ok "log -v" log -v -n 2
contains "log -v commit" "$OUT" "commit $H_EDIT"
contains "log -v edits" "$OUT" "Edits:"
expect_usage "log -n 0" log -n 0
expect_usage "log -n -3" log -n -3
expect_usage "log -n abc" log -n abc
expect_usage "log -n missing" log -n
expect_usage "log --op bad" log --op merge
expect_usage "log unknown option" log --bogus
expect_usage "log two refs" log main main
expect_fail "log unknown ref" log ffffffffffffffff

# ---- show ----------------------------------------------------------------

expect_ok "show full hash" show "$H_USER"
contains "show commit line" "$OUT" "commit $H_USER"
contains "show message" "$OUT" "first question"
contains "show content" "$OUT" '"text": "Hello"'
contains "show type" "$OUT" "dialogue"
expect_ok "show 8-char prefix" show "${H_USER:0:8}"
contains "show by prefix" "$OUT" "commit $H_USER"
expect_ok "show upper-case prefix" show "$(printf '%s' "${H_USER:0:8}" | tr a-f A-F)"
contains "show by upper-case prefix" "$OUT" "commit $H_USER"
expect_ok "show branch" show main
contains "show main is HEAD" "$OUT" "commit $H_EDIT"
expect_ok "show --json" show --json "$H_ASST"
jtrue "show --json fields" 'd["commit_hash"] == E["H_ASST"] and d["parent_hash"] == E["H_USER"] and d["generation_config"] == {"temperature": 0.7} and d["content"]["text"] == "Hi there" and d["content"]["role"] == "assistant"'
expect_fail "show unknown hash" show "$(printf 'f%.0s' {1..64})"
expect_fail "show 3-char prefix" show "${H_USER:0:3}"
expect_usage "show without REF" show

# ---- status --------------------------------------------------------------

expect_ok "compile for status" compile --json
export TOK SRC
TOK=$(jval 'd["token_count"]')
SRC=$(jval 'd["token_source"]')
expect_ok "status --json" status --json
jtrue \
	"status fields" 'd["tract_id"] == E["ID1"] and d["head"] == E["H_EDIT"] and d["branch"] == "main" and d["detached"] is False and d["commit_count"] == 17 and d["max_tokens"] is None' \
	"status tokens" 'd["token_count"] == int(E["TOK"]) and d["token_source"] == E["SRC"]'
expect_ok "status" status
eq "status first line" "${OUT%%$'\n'*}" "On branch main  (${H_EDIT:0:8})"
contains "status commits" "$OUT" "Commits: 17"
contains "status tokens" "$OUT" "Tokens:  $TOK (no budget set)"
contains "status recent" "$OUT" "Recent commits:"
contains "status recent row" "$OUT" "  ${H_EDIT:0:8} "
expect_usage "status extra argument" status foo

# ---- at-time from a stored timestamp --------------------------------------

expect_ok "compile --at-time created_at" compile --json --at-time "$CREATED_USER"
jtrue "compile --at-time stored instant" 'd["commit_hashes"] == [E["H_INS"], E["H_USER"]]'

# ---- errors: exit 1, one line, nothing written ---------------------------
ROWS_BEFORE=$(rows_snapshot "$TRACT_DB")

expect_fail "invalid --json" commit dialogue --json '{"role": "user", "text": '
expect_fail "--json not an object" commit instruction --json '["x"]'
expect_fail "--metadata not an object" commit user "x" --metadata '[1, 2]'
expect_fail "--metadata invalid" commit user "x" --metadata '{bad'
expect_fail "--config not an object" commit user "x" --config '"hot"'
expect_fail "unknown content type (--json)" commit bogus --json '{"text": "x"}'
expect_fail "unknown content type (content_type)" commit bogus --json '{"content_type": "bogus", "text": "x"}'
expect_fail "unknown KIND with TEXT" commit bogus "some text"
expect_fail "content_type/KIND mismatch" commit reasoning --json '{"content_type": "output", "text": "x"}'
expect_fail "role/KIND mismatch" commit user --json '{"role": "assistant", "text": "x"}'
expect_fail "missing required field" commit tool_io --json '{"tool_name": "x", "direction": "call"}'
expect_fail "bad enum" commit tool_io --json '{"tool_name": "x", "direction": "sideways", "payload": {}}'
expect_fail "wrong JSON type" commit instruction --json '{"text": 5}'
expect_fail "invalid UTF-8 TEXT" commit user "$(printf 'ab\xffcd')"
printf 'x\xff' >"$TMP/bad.txt"
STDIN=$TMP/bad.txt expect_fail "invalid UTF-8 on stdin" commit user -
expect_fail "invalid UTF-8 message" commit user "ok" -m "$(printf '\xc3')"
expect_fail "invalid UTF-8 in --json" commit instruction --json "$(printf '{"text": "\xff"}')"
expect_fail "edit of unknown hash" commit assistant "new" --edit "$(printf 'e%.0s' {1..64})"
expect_fail "edit of 3-char prefix" commit assistant "new" --edit "${H_ASST:0:3}"
expect_fail "edit of an edit" commit assistant "again" --edit "$H_EDIT"
expect_fail "missing --file" commit artifact --file "$TMP/nope.json"
expect_fail "non-finite config" commit user "x" --config '{"t": 1e999}'
expect_fail "compile --at-time garbage" compile --at-time yesterday
expect_fail "compile --at-time bad date" compile --at-time 2026-13-45T00:00:00
expect_fail "compile --at unknown" compile --at "$(printf 'a%.0s' {1..64})"
expect_fail "--tract unknown" --tract 0123456789abcdef0123456789abcdef status
expect_fail "tokens missing file" tokens "$TMP/nope.txt"
expect_fail "tokens unknown encoding" tokens --encoding klingon_base "$TMP/stdin.txt"

# ---- usage errors: exit 2 ------------------------------------------------

expect_usage "commit without KIND" commit
expect_usage "commit without TEXT" commit user
expect_usage "commit TEXT and --json" commit user "x" --json '{"text": "y"}'
expect_usage "commit --json and --file" commit user --json '{}' --file "$TMP/art.json"
expect_usage "commit --name on instruction" commit instruction "x" --name bob
expect_usage "commit built-in KIND without --json" commit reasoning "x"
expect_usage "commit extra argument" commit user "x" "y"
expect_usage "commit -m without value" commit user "x" -m
expect_usage "commit unknown option" commit user "x" --frob
expect_usage "compile bad format" compile --format xml
expect_usage "compile --at with --at-time" compile --at main --at-time 2020-01-01T00:00:00Z
expect_usage "compile --json with --format text" compile --json --format text
expect_usage "annotate without args" annotate
expect_usage "tracts extra" tracts foo
run log --all --json
jtrue "usage errors wrote nothing" "len(d) == $NCOMMITS"

ROWS_AFTER=$(rows_snapshot "$TRACT_DB")
eq "failed commands wrote no row in any table" "$ROWS_AFTER" "$ROWS_BEFORE"

# options after positional arguments
commit_ok H_AFTER user "options after" -m "late option"
NCOMMITS=$((NCOMMITS + 1))
expect_ok "show late option" show --json "$H_AFTER"
jtrue "late option applied" 'd["message"] == "late option"'
commit_ok H_DASH user -- "-starts with a dash"
NCOMMITS=$((NCOMMITS + 1))
expect_ok "show dash text" show --json "$H_DASH"
jtrue "text after --" 'd["content"]["text"] == "-starts with a dash"'

# ---- budget: persisted in store metadata (DECISIONS.md), shown by status --

if [[ $HAVE_SQLITE -eq 1 ]]; then
	run status --json
	TOKNOW=$(jval 'd["token_count"]')
	python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("insert or replace into _trace_meta (key, value) values (?, ?)", ("tract:%s:max_tokens" % sys.argv[2], sys.argv[3]))
c.commit()' "$TRACT_DB" "$ID1" "$((TOKNOW * 2))"
	expect_ok "status --json with a budget" status --json
	jtrue "status max_tokens" 'd["max_tokens"] == 2 * d["token_count"]'
	expect_ok "status with a budget" status
	contains "budget bar" "$OUT" "Tokens:  $TOKNOW / $((TOKNOW * 2)) [###############---------------] 50%"
fi

# ---- fsck and plugins ----------------------------------------------------

expect_ok "fsck --json" fsck --json
jtrue "fsck ok" 'd == {"ok": True, "problems": []}'
expect_ok "fsck" fsck
if [[ $HAVE_SQLITE -eq 1 ]]; then
	# A tampered copy: fsck lists the damage and exits 1.
	cp "$TRACT_DB" "$TMP/tampered.db"
	python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("update blobs set payload_json = replace(payload_json, \"e\", \"E\")")
c.commit()' "$TMP/tampered.db"
	run --db "$TMP/tampered.db" fsck
	eq "fsck on a tampered store exits 1" "$RC" 1
	contains "fsck names the mismatch" "$OUT$ERR" "content hash mismatch"
	run --db "$TMP/tampered.db" fsck --json
	eq "fsck --json on a tampered store exits 1" "$RC" 1
	jtrue "fsck --json reports problems" 'd["ok"] is False and len(d["problems"]) > 0 and all(p["severity"] == "error" for p in d["problems"])'
fi
expect_ok "plugins" plugins
contains "plugins lists sqlite" "$OUT" "sqlite"
expect_ok "plugins --json" plugins --json
jtrue "plugins --json sqlite" 'any(p["name"] == "sqlite" and p["kind"] == "backend" and p["abi_version"] >= 1 and p["error"] is None and p["path"] for p in d)'

# ---- tokens --------------------------------------------------------------

printf 'hello world, this is a test' >"$TMP/t.txt"
expect_ok "tokens FILE" tokens "$TMP/t.txt"
match "tokens prints an integer" "$OUT" '^[0-9]+$'
NTOK=$OUT
if [[ $NTOK -gt 0 ]]; then ok; else bad "tokens of a text is 0"; fi
STDIN=$TMP/t.txt expect_ok "tokens stdin" tokens
eq "tokens stdin = file" "$OUT" "$NTOK"
STDIN=$TMP/t.txt expect_ok "tokens -" tokens -
eq "tokens - = file" "$OUT" "$NTOK"
expect_ok "tokens --encoding o200k_base" tokens --encoding o200k_base "$TMP/t.txt"
eq "tokens default encoding" "$OUT" "$NTOK"
expect_ok "tokens --json" tokens --json "$TMP/t.txt"
jtrue "tokens --json" 'd["token_count"] == int('"$NTOK"') and isinstance(d["token_source"], str)'
: >"$TMP/empty.txt"
expect_ok "tokens empty" tokens "$TMP/empty.txt"
eq "tokens of nothing" "$OUT" 0
STDIN=$TMP/bad.txt expect_fail "tokens invalid UTF-8" tokens
expect_usage "tokens --encoding with --model" tokens --encoding o200k_base --model gpt-4 "$TMP/t.txt"
expect_ok "tokens --encoding estimate" tokens --encoding estimate --json "$TMP/t.txt"
jtrue "tokens estimate" 'd["token_count"] == 7 and d["token_source"] == "estimate:bytes/4"'

# Exact counts (from tiktoken@1.0.22 in node): the tables are part of the
# test's data (scripts/build.sh fetches them into BUILDDIR/data/encodings);
# without them the test fails.
if "$TRACT" tokens --encoding o200k_base "$TMP/t.txt" >/dev/null 2>&1; then
	eq "o200k_base count" "$NTOK" 7
	expect_ok "tokens default --json" tokens --json "$TMP/t.txt"
	jtrue "default counter is o200k_base" 'd["token_source"] == "tiktoken:o200k_base"'
	printf 'Before <|endoftext|> after <|endofprompt|><|fim_prefix|>' >"$TMP/special.txt"
	expect_ok "tokens special text" tokens "$TMP/special.txt"
	eq "special-token text counts as text (o200k_base)" "$OUT" 21
	expect_ok "tokens cl100k_base" tokens --encoding cl100k_base "$TMP/special.txt"
	eq "special-token text counts as text (cl100k_base)" "$OUT" 20
	expect_ok "tokens --model gpt-4" tokens --model gpt-4 --json "$TMP/special.txt"
	jtrue "gpt-4 counts with cl100k_base" 'd["token_count"] == 20 and d["token_source"] == "tiktoken:cl100k_base"'
	expect_ok "tokens --model gpt-3.5-turbo-0125" tokens --model gpt-3.5-turbo-0125 "$TMP/special.txt"
	eq "gpt-3.5-turbo-0125 counts with cl100k_base" "$OUT" 20
	for m in gpt-4o gpt-4o-mini gpt-4.1 o1 o3-mini o4-mini ft:gpt-4o-2024-08-06:org::x some-new-model; do
		expect_ok "tokens --model $m" tokens --model "$m" --json "$TMP/special.txt"
		jtrue "$m counts with o200k_base" 'd["token_count"] == 21 and d["token_source"] == "tiktoken:o200k_base"'
	done
	expect_ok "compile --json source" compile --json
	jtrue "compile token_source is exact" 'd["token_source"] == "tiktoken:o200k_base"'
	# U+0000 is a character: tiktoken counts a NUL byte like any other
	# ("a\0b": 3 tokens in both encodings; the longer text 12 and 13).
	printf 'a\0b' >"$TMP/nul.txt"
	expect_ok "tokens NUL byte" tokens "$TMP/nul.txt"
	eq "tokens counts a NUL byte (o200k_base)" "$OUT" 3
	printf 'a\0b\0\0c 123\0 \0\n\0' >"$TMP/nul2.txt"
	STDIN=$TMP/nul2.txt expect_ok "tokens NUL bytes stdin" tokens --encoding o200k_base
	eq "tokens counts NUL bytes (o200k_base)" "$OUT" 12
	expect_ok "tokens NUL bytes cl100k_base" tokens --encoding cl100k_base --json "$TMP/nul2.txt"
	jtrue "tokens counts NUL bytes (cl100k_base)" 'd["token_count"] == 13'
	printf 'a\0\xff' >"$TMP/nulbad.txt"
	expect_fail "tokens NUL byte and invalid UTF-8" tokens "$TMP/nulbad.txt"
	# A text holding U+0000 ("\u0000" in --json) commits and compiles.
	expect_ok "nul store" --db "$TMP/nul.db" init
	run --db "$TMP/nul.db" commit instruction --json '{"text": "a\u0000b"}'
	eq "commit a text holding U+0000" "$RC" 0
	expect_ok "compile --json U+0000" --db "$TMP/nul.db" compile --json
	contains "compile --json writes \\u0000" "$OUT" '"content": "a\u0000b"'
	jtrue "compile --json U+0000" 'd["messages"] == [{"role": "system", "content": "a\x00b"}]' \
		"U+0000 counted as tiktoken does" 'd["token_count"] == 3 + 3 + 1 + 3'
	expect_ok "fsck U+0000" --db "$TMP/nul.db" fsck
	# The text rendering writes U+0000 as the raw byte, the whole text.
	expect_ok "compile text U+0000" --db "$TMP/nul.db" compile
	printf '[system]\na\0b\n' >"$TMP/nulwant.txt"
	if cmp -s "$TMP/out" "$TMP/nulwant.txt"; then ok; else
		bad "compile text U+0000: got [$(od -c "$TMP/out" | head -3)]"
	fi
else
	bad "no o200k_base table in the build tree: build with scripts/build.sh, or run scripts/fetch-encodings.sh BUILDDIR/data/encodings"
fi
expect_fail "tokens unknown encoding is named" tokens --encoding p50k_base "$TMP/t.txt"
contains "unknown encoding message" "$ERR" "unknown encoding"

# ---- several tracts in one store -----------------------------------------

S2=$TMP/two.db
expect_ok "init alpha" --db "$S2" init --name alpha
export ID_A=$OUT
expect_ok "init beta" --db "$S2" init --name beta
export ID_B=$OUT
if [[ $ID_A != "$ID_B" ]]; then ok; else bad "two inits gave one id"; fi
TRACT_DB=$S2 TRACT_ID=$ID_A commit_ok H_A1 user "a1"
run --db "$S2" --tract "$ID_A" commit user "a1"
eq "global --tract must precede the command" "$RC" 0
export H_A2=$OUT
TRACT_DB=$S2 TRACT_ID=$ID_B commit_ok H_B1 user "b1"
expect_ok "tracts --json" --db "$S2" tracts --json
jtrue \
	"tracts count" 'len(d) == 2' \
	"tracts fields" 'all(set(["tract_id", "display_name", "head", "branch", "commit_count", "last_activity", "parent_tract_id"]) <= set(t) for t in d)' \
	"tracts order (most recent first)" '[t["tract_id"] for t in d] == [E["ID_B"], E["ID_A"]]' \
	"tracts values" 'd[0]["display_name"] == "beta" and d[0]["head"] == E["H_B1"] and d[0]["branch"] == "main" and d[0]["commit_count"] == 1 and d[0]["parent_tract_id"] is None' \
	"tracts second" 'd[1]["display_name"] == "alpha" and d[1]["head"] == E["H_A2"] and d[1]["commit_count"] == 2' \
	"tracts last_activity" 'all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", t["last_activity"]) for t in d)'
expect_ok "tracts" --db "$S2" tracts
contains "tracts marks the current one" "$OUT" "* $ID_B"
contains "tracts names" "$OUT" "alpha"
expect_ok "discovery picks the most recent" --db "$S2" status --json
jtrue "discovered tract" 'd["tract_id"] == E["ID_B"]'
expect_ok "--tract selects" --db "$S2" --tract "$ID_A" compile --json
jtrue "--tract compile" '[m["content"] for m in d["messages"]] == ["a1", "a1"] and d["commit_hashes"] == [E["H_A1"], E["H_A2"]]'
TRACT_ID=$ID_A expect_ok "TRACT_ID selects" --db "$S2" status --json
jtrue "TRACT_ID status" 'd["tract_id"] == E["ID_A"] and d["head"] == E["H_A2"]'
expect_ok "--tract beats TRACT_ID" --db "$S2" --tract "$ID_B" log --json
jtrue "--tract log" '[c["commit_hash"] for c in d] == [E["H_B1"]]'
# shellcheck disable=SC2153 # H_A1 is set by commit_ok
expect_fail "show another tract's commit" --db "$S2" --tract "$ID_B" show "$H_A1"
expect_ok "fsck two tracts" --db "$S2" fsck --json
jtrue "fsck two tracts ok" 'd["ok"] is True'

# ---- ambiguous prefix ------------------------------------------------------

S3=$TMP/ambig.db
"$TRACT" --db "$S3" init >/dev/null
declare -A seen=()
AMBIG=
for i in $(seq 1 1500); do
	h=$("$TRACT" --db "$S3" commit user "n$i") || {
		bad "commit n$i in $S3 failed"
		break
	}
	p=${h:0:4}
	if [[ -n ${seen[$p]:-} ]]; then
		AMBIG=$p
		break
	fi
	seen[$p]=1
done
if [[ -n $AMBIG ]]; then
	TRACT_DB=$S3 expect_fail "ambiguous prefix (show)" show "$AMBIG"
	TRACT_DB=$S3 expect_fail "ambiguous prefix (edit)" commit assistant "x" --edit "$AMBIG"
	TRACT_DB=$S3 expect_fail "ambiguous prefix (annotate)" annotate "$AMBIG" skip
else
	# 1500 hashes over 65536 prefixes: no collision has a chance of ~3e-8.
	bad "no 4-hex prefix collision among 1500 commits: ambiguous prefixes not checked"
fi

# ---- fixtures written by the reference -----------------------------------

# In the repository (tests/fixtures/py-tract); missing ones fail the test.
FIX=${TRACT_FIXTURES:-}
if [[ -z $FIX || ! -d $FIX ]]; then
	bad "fixture directory '${FIX}' missing: TRACT_FIXTURES must name tests/fixtures/py-tract"
else
	mkdir -p "$TMP/fx"
	for name in v1_basic v2_basic v3_basic v4_basic; do
		if [[ ! -f $FIX/$name.db || ! -f $FIX/$name.expected.json ]]; then
			bad "fixture $FIX/$name.db or its expected file missing"
			continue
		fi
		cp "$FIX/$name.db" "$TMP/fx/$name.db"
		ids=$(python3 -c 'import json,sys; print("\n".join(t["tract_id"] for t in json.load(open(sys.argv[1]))["tracts"]))' "$FIX/$name.expected.json")
		for id in $ids; do
			run --db "$TMP/fx/$name.db" --tract "$id" compile --json
			if [[ $RC -ne 0 ]]; then
				bad "$name/$id compile: exit $RC: $ERR"
			elif printf '%s' "$OUT" | python3 "$TMP/cmp.py" "$FIX/$name.expected.json" "$id"; then
				ok
			else
				bad "$name/$id compile differs from compile_decided"
			fi
		done
		run --db "$TMP/fx/$name.db" fsck
		if [[ $RC -eq 0 ]]; then ok; else bad "$name fsck: exit $RC: $OUT $ERR"; fi
	done
fi

finish "cli"
