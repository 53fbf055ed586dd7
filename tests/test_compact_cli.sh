#!/usr/bin/env bash
# test_compact_cli.sh - `tract compact-tools` and `tract budget`: old tool
# output stubbed (call ids, tools and statuses kept, bodies still pairing
# every call), dry runs and reruns writing nothing, failed pairs dropped,
# the budget persisted and shown by status, the auto-compact policy.
# Usage: test_compact_cli.sh PATH/TO/tract
set -euo pipefail

TRACT=${1:?usage: test_compact_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
unset TRACT_DB TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-compact-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
export TRACT_DB=$TMP/t.db

check() {
	local desc=$1
	shift
	if "$@"; then ok; else bad "$desc"; fi
}

# Python expressions over the JSON of $OUT (d).
rows() { "$TRACT" log --all --oneline 2>/dev/null | wc -l; }

long=$(for i in $(seq 1 80); do printf 'row %d of the listing\n' "$i"; done)
"$TRACT" init >/dev/null
"$TRACT" commit user "find the bug" >/dev/null
"$TRACT" commit tool-call --tool grep --call-id g1 '{"q": "bug"}' >/dev/null
R1=$("$TRACT" commit tool-result --tool grep --call-id g1 --status success "$long")
"$TRACT" commit tool-call --tool ls --call-id l1 '{}' >/dev/null
R2=$("$TRACT" commit tool-result --tool ls --call-id l1 --status error "$long")
"$TRACT" commit tool-call --tool cat --call-id c1 '{}' >/dev/null
R3=$("$TRACT" commit tool-result --tool cat --call-id c1 "$long")
"$TRACT" commit assistant "found it" >/dev/null

# dry run: lists, writes nothing
before=$(rows)
run compact-tools --dry-run --json
check "dry run exits 0" test "$RC" -eq 0
jtrue "dry run plan" 'd["dry_run"] is True and d["compacted"] == 2 and d["edits"] == [] and d["tokens_after"] < d["tokens_before"]'
check "dry run writes nothing" test "$(rows)" -eq "$before"
run compact-tools --dry-run
check "dry run text names the targets" grep -q "would compact ${R1:0:8}" "$TMP/out"

# the real thing: keep 1 turn (the reply), drop failed pairs
run compact-tools --keep-turns 1 --drop-failed --json
jtrue "compaction result" 'd["compacted"] == 2 and d["dropped"] == 2 and len(d["edits"]) == 2'
check "two edit commits written" test "$(rows)" -eq $((before + 2))
run compile --format openai
jtrue "stubs keep their calls" '[m.get("tool_call_id") for m in d["messages"] if m["role"] == "tool"] == ["g1", "c1"]' \
	"stub text" 'all(m["content"].startswith("[compacted tool output: row 1 of the listing]") for m in d["messages"] if m["role"] == "tool")' \
	"failed pair gone" 'not any(c["id"] == "l1" for m in d["messages"] for c in m.get("tool_calls", []))'
run show "$R1"
check "original kept in history" grep -q "row 80 of the listing" "$TMP/out"
run log -n 1 --json
jtrue "edit names its original" 'd[0]["operation"] == "edit" and d[0]["response_to"] == "'"$R3"'"'
# rerun: nothing
before=$(rows)
run compact-tools --keep-turns 0
check "rerun compacts nothing" grep -q "^Compacted 0 tool result" "$TMP/out"
check "rerun writes nothing" test "$(rows)" -eq "$before"

# the budget: persisted, shown by status
run budget
check "no budget at first" grep -q "^No token budget set" "$TMP/out"
run status --json
jtrue "status without budget" 'd["max_tokens"] is None'
run budget 5000
check "budget set" test "$RC" -eq 0
run status --json
jtrue "status shows the budget" 'd["max_tokens"] == 5000 and d["token_count"] > 0'
run status
check "status bar" grep -Eq "Tokens:  [0-9]+ / 5000 \[#*-+\] [0-9]+%" "$TMP/out"
run budget --json
jtrue "budget json" 'd["max_tokens"] == 5000 and d["auto_compact"] is False'
run budget --off
run status --json
jtrue "budget off" 'd["max_tokens"] is None'

# the auto-compact policy: a commit over the budget compacts first
"$TRACT" commit tool-call --tool grep --call-id g2 '{}' >/dev/null
"$TRACT" commit tool-result --tool grep --call-id g2 "$long" >/dev/null
"$TRACT" commit tool-call --tool grep --call-id g3 '{}' >/dev/null
"$TRACT" commit tool-result --tool grep --call-id g3 "$long" >/dev/null
"$TRACT" commit assistant "done" >/dev/null
run status --json
used=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_count"])')
run budget $((used - 100)) --auto-compact
check "policy set" grep -q "auto-compact" "$TMP/out"
run commit user "next"
check "commit under the policy succeeds" test "$RC" -eq 0
check "no budget warning" test -z "$ERR"
run status --json
jtrue "under the budget after the policy" "d['token_count'] <= $((used - 100))"
run budget --no-auto-compact --json
jtrue "policy off" 'd["auto_compact"] is False'

# usage errors exit 2
run budget -3
check "negative budget is a usage error" test "$RC" -eq 2
run compact-tools --keep-turns x
check "bad --keep-turns is a usage error" test "$RC" -eq 2
run compact-tools --help
check "help" grep -q "keep-turns" "$TMP/out"

finish "compact-cli"
