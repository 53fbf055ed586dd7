#!/usr/bin/env bash
# test_tools_cli.sh - `tract commit tool-call / tool-result` and the
# provider renderings of `tract compile --format openai|anthropic`
# (DESIGN.md §9, core/chat.h): ids given or assigned, results naming their
# call, refusals that write nothing, the request bodies.
# Usage: test_tools_cli.sh PATH/TO/tract
set -euo pipefail

TRACT=${1:?usage: test_tools_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
unset TRACT_DB TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-tools-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
export TRACT_DB=$TMP/t.db

# Python expressions over the JSON of $OUT (d) and the environment (E).

commit_ok() {
	local var=$1
	shift
	run commit "$@"
	if [[ $RC -eq 0 && $OUT =~ ^[0-9a-f]{64}$ ]]; then
		ok
		export "$var=$OUT"
	else
		bad "commit $*: exit $RC, out [$OUT], err [$ERR]"
	fi
}

snapshot() { "$TRACT" log --all --oneline 2>/dev/null | wc -l; }

expect_fail() {
	local desc=$1 want=$2 before after
	shift 2
	before=$(snapshot)
	run "$@"
	after=$(snapshot)
	if [[ $RC -ne 1 ]]; then
		bad "$desc: exit $RC (want 1), stderr: $ERR"
	elif [[ $ERR != "tract: "* || $ERR == *$'\n'* ]]; then
		bad "$desc: stderr is not one 'tract: ' line: [$ERR]"
	elif [[ $ERR != *"$want"* ]]; then
		bad "$desc: stderr [$ERR] does not say [$want]"
	elif [[ $before != "$after" ]]; then
		bad "$desc: the store changed"
	else
		ok
	fi
}

expect_usage() {
	local desc=$1 before after
	shift
	before=$(snapshot)
	run "$@"
	after=$(snapshot)
	if [[ $RC -eq 2 && -n $ERR && $before == "$after" ]]; then ok; else bad "$desc: exit $RC (want 2), stderr: $ERR"; fi
}

# ---- commits ---------------------------------------------------------------

run init
[[ $RC -eq 0 ]] && ok || bad "init: $ERR"
commit_ok H_SYS instruction "Use the tools."
commit_ok H_USER user "Weather in Paris, and 2+2?"
commit_ok H_ASST assistant "Checking."
# no --call-id: the library assigns one, `show` prints it
commit_ok H_CALL1 tool-call --tool weather '{"city": "Paris", "days": 2}'
run show "$H_CALL1"
ID1=$(printf '%s\n' "$OUT" | sed -n 's/^ *"call_id": "\(.*\)",$/\1/p')
if [[ $ID1 =~ ^call_[0-9a-f]{24}$ ]]; then ok; else bad "show of a tool call: no assigned call id in [$OUT]"; fi
export ID1
# a given id, the arguments from standard input
printf '{"expr": "2+2"}' >"$TMP/args.json"
STDIN=$TMP/args.json commit_ok H_CALL2 tool-call --tool calc --call-id toolu_01A -
run show "$H_CALL2"
[[ $OUT == *'"call_id": "toolu_01A"'* ]] && ok || bad "show: given id missing: $OUT"
# a call and its result, then both skipped: compile leaves them out
commit_ok H_X1 tool-call --tool weather '{"city": "Paris", "days": 2}' --call-id other_1
commit_ok H_X2 tool-result --tool weather --call-id other_1 'unused'
"$TRACT" annotate "$H_X1" skip >/dev/null
"$TRACT" annotate "$H_X2" skip >/dev/null
# results: plain text, a JSON object, an error status
commit_ok H_RES2 tool-result --tool calc --call-id toolu_01A '{"value": 4}'
commit_ok H_RES1 tool-result --tool weather --call-id "$ID1" --status error 'service down'

# ---- refusals: nothing written ------------------------------------------------

expect_fail "result of an unknown call" "no tool call of the history" \
	commit tool-result --tool calc --call-id call_nosuch 'x'
expect_fail "call id with a space" "invalid call id" commit tool-call --tool t --call-id 'a b' '{}'
expect_fail "call id too long" "invalid call id" \
	commit tool-call --tool t --call-id "$(printf 'a%.0s' {1..65})" '{}'
expect_fail "arguments not an object" "must be a JSON object" commit tool-call --tool t '[1, 2]'
expect_fail "arguments not JSON" "not valid JSON" commit tool-call --tool t '{"a":'
expect_fail "arguments with a duplicate key" "" commit tool-call --tool t '{"a": 1, "a": 2}'
expect_usage "tool-call without --tool" commit tool-call '{}'
expect_usage "tool-result without --call-id" commit tool-result --tool t 'x'
expect_usage "tool-call with --status" commit tool-call --tool t --status error '{}'
expect_usage "bad --status" commit tool-result --tool t --call-id "$ID1" --status failed 'x'
expect_usage "tool-call with --json" commit tool-call --tool t --json '{}'
expect_usage "--tool with a dialogue kind" commit user --tool t 'hi'
expect_usage "tool-call without arguments" commit tool-call --tool t

# ---- the bodies ----------------------------------------------------------------------

run compile --format openai
jtrue \
	"openai: system, user, one assistant with both calls, two tool messages" \
	'[m["role"] for m in d["messages"]] == ["system", "user", "assistant", "tool", "tool"]' \
	"openai: the text joins the calls" 'd["messages"][2]["content"] == "Checking."' \
	"openai: calls" '[(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in d["messages"][2]["tool_calls"]] == [(E["ID1"], "weather", {"city": "Paris", "days": 2}), ("toolu_01A", "calc", {"expr": "2+2"})]' \
	"openai: results by id" '[(m["tool_call_id"], m["content"]) for m in d["messages"][3:]] == [("toolu_01A", "{\"value\":4}"), (E["ID1"], "service down")]'
run compile --format anthropic
jtrue \
	"anthropic: system top-level" 'd["system"] == "Use the tools."' \
	"anthropic: turns" '[m["role"] for m in d["messages"]] == ["user", "assistant", "user"]' \
	"anthropic: tool_use input is the object" 'd["messages"][1]["content"][1] == {"type": "tool_use", "id": E["ID1"], "name": "weather", "input": {"city": "Paris", "days": 2}}' \
	"anthropic: is_error from the status" 'd["messages"][2]["content"][1] == {"type": "tool_result", "tool_use_id": E["ID1"], "content": "service down", "is_error": True}' \
	"anthropic: success has no is_error" '"is_error" not in d["messages"][2]["content"][0]'
# the json rendering is the reference's: one message per commit
run compile --json
jtrue "json rendering unchanged" '[m["role"] for m in d["messages"]] == ["system", "user", "assistant", "tool", "tool", "tool", "tool"] and d["messages"][3]["content"].startswith("Tool call: weather\n")'
# a call answered later than right after stays text
commit_ok H_CALL3 tool-call --tool clock '{}'
run compile --format openai
jtrue "unanswered call at the end is text" 'd["messages"][-1] == {"role": "assistant", "content": "Tool call: clock\n{}"}'

finish "tools-cli"
