#!/usr/bin/env bash
# test_llm_resolver_cli.sh - `merge --llm`, `cherry-pick --llm` and
# `rebase --llm` with the example provider (offline, deterministic): the
# resolved text in the compiled context, the generation config on the
# merge commit, the provider chosen as `generate` chooses it (flag,
# TRACT_PROVIDER, the stored setting), failures that write nothing, usage
# errors, and the key never in the output.
# Usage: test_llm_resolver_cli.sh PATH/TO/tract
set -uo pipefail

TRACT=${1:?usage: test_llm_resolver_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
unset TRACT_DB TRACT_ID NO_COLOR TRACT_PROVIDER TRACT_MODEL TRACT_DEBUG
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-llm-resolver-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1
SECRET=sk-cli-SECRET-31337

# run ARGS...: OUT, ERR, RC
run() {
	OUT=$("$TRACT" "$@" 2>"$TMP/err")
	RC=$?
	ERR=$(cat "$TMP/err")
}
check() {
	local desc=$1 expr=$2 out
	out=$(python3 -c 'import json,sys
d=json.load(sys.stdin)
print("yes" if eval(sys.argv[1]) else "no")' "$expr" 2>&1)
	if [ "$out" = yes ]; then ok; else bad "$desc: $expr ($out)"; fi
}
state() { "$TRACT" log --json -n 1000 --all 2>/dev/null || "$TRACT" log --json -n 1000; "$TRACT" branch; }
compiled() { "$TRACT" compile --json | python3 -c 'import json,sys; print("|".join(m["content"] for m in json.load(sys.stdin)["messages"]))'; }

# A both_edit conflict: x shared, edited on main and on feature.
fresh() {
	export TRACT_DB=$TMP/$1.db
	"$TRACT" init >/dev/null || { echo "init failed" >&2; exit 1; }
	X=$("$TRACT" commit user "The meeting is on Monday.")
	"$TRACT" branch feature >/dev/null
	"$TRACT" commit user "The meeting is on Tuesday." --edit "$X" >/dev/null
	"$TRACT" switch feature >/dev/null
	"$TRACT" commit user "The meeting is on Wednesday." --edit "$X" >/dev/null
	"$TRACT" switch main >/dev/null
}

# ---- help and usage ---------------------------------------------------------
fresh usage
run merge --help
contains "merge help" "$OUT" "--llm"
run cherry-pick --help
contains "cherry-pick help" "$OUT" "--llm"
run rebase --help
contains "rebase help" "$OUT" "--llm"
for cmd in merge cherry-pick rebase; do
	run $cmd --provider example feature
	eq "$cmd --provider without --llm" "$RC" "2"
	contains "$cmd stray message" "$ERR" "need --llm"
	run $cmd --llm -o novalue feature
	eq "$cmd bad --option" "$RC" "2"
done
run merge --llm --strategy ours feature
eq "--llm with --strategy" "$RC" "2"
contains "exclusive" "$ERR" "exclusive"

# ---- merge --llm ----------------------------------------------------------------
fresh merge
before=$(state)
run merge --llm feature
eq "no provider: exit 1" "$RC" "1"
contains "no provider message" "$ERR" "--llm needs a provider"
eq "no provider: nothing written" "$(state)" "$before"
run merge --llm --provider nosuch feature
eq "missing plugin: exit 1" "$RC" "1"
eq "missing plugin: nothing written" "$(state)" "$before"
run merge --llm --provider example -o "colour=$SECRET" feature
eq "bad provider option: exit 1" "$RC" "1"
lacks "key not in stderr" "$ERR" "$SECRET"
lacks "key not in stdout" "$OUT" "$SECRET"
eq "bad option: nothing written" "$(state)" "$before"

run merge --llm --provider example -o "api_key=$SECRET" feature
eq "merge --llm exit 0" "$RC" "0"
contains "merge --llm says" "$OUT" "resolved by the LLM resolver"
lacks "key not in output" "$OUT$ERR" "$SECRET"
eq "resolved text compiled" "$(compiled)" "The meeting is on Wednesday."
check "merge commit's config" 'd["generation_config"]["source"] == "infrastructure:merge" and d["generation_config"]["temperature"] == 0.3 and d["generation_config"]["model"] == "example-1" and d["generation_config"]["usage"]["total_tokens"] > 0 and len(d["merge_parents"]) == 1' <<<"$("$TRACT" show --json HEAD)"
check "reasoning kept" 'list(d["metadata"]["resolution_reasoning"].values()) == ["LLM-resolved using model example-1"]' <<<"$("$TRACT" show --json HEAD)"
lacks "key not stored" "$("$TRACT" show --json HEAD)" "$SECRET"

# TRACT_PROVIDER and TRACT_MODEL; --json
fresh env
TRACT_PROVIDER=example TRACT_MODEL=ex-7 run merge --llm --json feature
eq "env provider: exit 0" "$RC" "0"
check "json committed" 'd["committed"] and d["merge_type"] == "conflict" and d["unresolved"] == 0 and list(d["resolutions"].values()) == ["The meeting is on Wednesday."]' <<<"$OUT"
check "env model used" 'd["generation_config"]["model"] == "ex-7"' <<<"$("$TRACT" show --json HEAD)"

# the stored setting (generate --save)
fresh stored
"$TRACT" commit user "hello" >/dev/null
"$TRACT" generate --provider example --save >/dev/null || bad "generate --save failed"
run merge --llm feature
eq "stored provider: exit 0" "$RC" "0"
contains "stored provider resolved" "$(compiled)" "The meeting is on Wednesday."

# ---- cherry-pick --llm ------------------------------------------------------------
export TRACT_DB=$TMP/pick.db
"$TRACT" init >/dev/null
"$TRACT" commit user "root" >/dev/null
"$TRACT" branch feature >/dev/null
"$TRACT" commit user "m1" >/dev/null
"$TRACT" switch feature >/dev/null
F1=$("$TRACT" commit user "f1")
E=$("$TRACT" commit user "f1 corrected" --edit "$F1")
"$TRACT" switch main >/dev/null
before=$(state)
run cherry-pick "$E"
eq "pick without --llm: exit 1" "$RC" "1"
run cherry-pick --llm --provider nosuch "$E"
eq "pick, missing plugin: exit 1" "$RC" "1"
eq "pick failures: nothing written" "$(state)" "$before"
run cherry-pick --llm --provider example "$E"
eq "pick --llm exit 0" "$RC" "0"
eq "pick: the commit's text lands" "$(compiled)" "root|m1|f1 corrected"
check "pick: an append" 'd["operation"] == "append"' <<<"$("$TRACT" show --json HEAD)"

# ---- rebase --llm -------------------------------------------------------------------
export TRACT_DB=$TMP/rebase.db
"$TRACT" init >/dev/null
"$TRACT" commit user "root" >/dev/null
"$TRACT" branch other >/dev/null
"$TRACT" branch feature >/dev/null
"$TRACT" commit user "m1" >/dev/null
"$TRACT" switch other >/dev/null
OX=$("$TRACT" commit user "elsewhere")
"$TRACT" switch feature >/dev/null
"$TRACT" commit user "edit of elsewhere" --edit "$OX" >/dev/null
before=$(state)
run rebase main
eq "rebase without --llm: exit 1" "$RC" "1"
run rebase --llm --provider nosuch main
eq "rebase, missing plugin: exit 1" "$RC" "1"
eq "rebase failures: nothing written" "$(state)" "$before"
run rebase --llm --provider example main
eq "rebase --llm exit 0" "$RC" "0"
contains "rebase says" "$OUT" "Successfully rebased"
eq "rebase: the commit's text lands" "$(compiled)" "root|m1|edit of elsewhere"

finish "test_llm_resolver_cli"
