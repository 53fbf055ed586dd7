#!/usr/bin/env bash
# test_compress_cli.sh - end-to-end tests of `tract compress`: manual
# summaries (one per group), ranges FROM..TO / ..TO / REV, --preserve,
# the context and log after the rewrite (later commits replayed), --json,
# --dry-run (groups, and the example provider's drafts with --llm),
# --review / --list / --show / --approve from another process, a stale
# pending compression refused, --discard, errors (exit 1, nothing
# written) and usage errors (exit 2), fsck clean at the end.
# Usage: test_compress_cli.sh PATH/TO/tract
set -euo pipefail

TRACT=${1:?usage: test_compress_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
cli_exec() { "$TRACT" --db "$DB" "$@"; }
unset TRACT_DB TRACT_ID NO_COLOR TRACT_PROVIDER
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-compress-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

compiled() {
	"$TRACT" --db "$DB" compile --json </dev/null |
		python3 -c 'import json,sys; print("|".join(m["content"] for m in json.load(sys.stdin)["messages"]))'
}
state() {
	"$TRACT" --db "$DB" log --all --json </dev/null
	"$TRACT" --db "$DB" status --json </dev/null
	python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for q in ("SELECT ref_name, commit_hash FROM refs ORDER BY 1", "SELECT count(*) FROM commits",
          "SELECT count(*) FROM annotations", "SELECT count(*) FROM compressions",
          "SELECT count(*) FROM _trace_meta"):
    print(db.execute(q).fetchall())' "$DB"
}
c() { "$TRACT" --db "$DB" commit "$@" </dev/null; }

# ---- help and usage -----------------------------------------------------------------
DB=$TMP/usage.db
"$TRACT" --db "$DB" init >/dev/null
c user "hello" >/dev/null
expect_ok "compress --help" compress --help
contains "help" "$OUT" "usage: tract compress [RANGE]"
expect_ok "tract --help" --help
contains "help lists compress" "$OUT" "compress"
expect_usage "no mode" compress
expect_usage "--summary and --llm" compress --summary a --llm
expect_usage "two ranges" compress a b --summary s
expect_usage "--approve with --summary" compress --approve x --summary s
expect_usage "--review with --dry-run" compress --review --dry-run --summary s
expect_usage "bad --target-tokens" compress --summary s --target-tokens 0

# ---- manual compression ------------------------------------------------------------------
DB=$TMP/manual.db
"$TRACT" --db "$DB" init >/dev/null
I=$(c instruction "Be brief.")
A=$(c user "We deploy on Friday.")
B=$(c assistant "Friday it is.")
P=$(c user "The budget is 40k.")
"$TRACT" --db "$DB" annotate "$P" pinned >/dev/null
D=$(c assistant "Understood.")
E=$(c user "Later question.")
F=$(c assistant "Later answer.")
BEFORE=$(state)
expect_fail "one summary for two groups" compress "$A..$D" --summary "x"
contains "message" "$ERR" "separate groups"
expect_fail "empty summary" compress "$A..$B" --summary " "
expect_fail "unknown revision" compress nosuch --summary x
eq "nothing written by the failures" "$(state)" "$BEFORE"
expect_ok "dry run" compress "$A..$D" --dry-run
contains "dry run groups" "$OUT" "group 0 (2 commits): ${A:0:8} ${B:0:8}"
contains "dry run second group" "$OUT" "group 1 (1 commit): ${D:0:8}"
eq "dry run writes nothing" "$(state)" "$BEFORE"
expect_ok "compress A..D" compress "$A..$D" --summary "They chose Friday." --summary "Acknowledged." --json
eq "sources" "$(echo "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["source_commits"]))')" "3"
NEWHEAD=$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["new_head"])')
eq "context" "$(compiled)" "Be brief.|They chose Friday.|The budget is 40k.|Acknowledged.|Later question.|Later answer."
run status --json
contains "head is the new tip" "$OUT" "$NEWHEAD"
run log
contains "log marks the summary" "$OUT" "[compressed 2 commits]"
contains "log marks the second summary" "$OUT" "[compressed 1 commits]"
run log --oneline
contains "log --oneline marks the summary" "$OUT" "[compressed 2 commits] Compressed 2 commits"
run log --verbose
contains "log --verbose marks the summary" "$OUT" "Compressed: 2 commits (compression "
# log --json: a summary carries its compression record, other commits none
run log --json
eq "log --json compression" "$(echo "$OUT" | python3 -c '
import json,sys
rows = json.load(sys.stdin)
marked = [r for r in rows if "compression" in r]
print(len(marked), [len(r["compression"]["sources"]) for r in marked],
      len(set(r["compression"]["compression_id"] for r in marked)))')" "2 [3, 3] 1"
SUM1=$(echo "$OUT" | python3 -c '
import json,sys
rows = [r for r in json.load(sys.stdin) if "compression" in r]
print([r for r in rows if r["message"] == "Compressed 2 commits"][0]["commit_hash"])')
SUM2=$(echo "$OUT" | python3 -c '
import json,sys
rows = [r for r in json.load(sys.stdin) if "compression" in r]
print([r for r in rows if r["message"] == "Compressed 1 commits"][0]["commit_hash"])')
run show "$SUM1"
contains "show: the compression" "$OUT" "Compressed: 2 commits (compression "
contains "show: replaced A" "$OUT" "Replaced:   $A"
contains "show: replaced B" "$OUT" "Replaced:   $B"
run show "$SUM1" --json
eq "show --json replaced" "$(echo "$OUT" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["replaced"]))')" "$A $B"
eq "show --json: the whole compression" "$(echo "$OUT" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["compression"]["sources"]))')" "$A $B $D"
run show "$SUM2"
contains "show: second group" "$OUT" "Replaced:   $D"
if [[ $OUT == *"Replaced:   $A"* ]]; then bad "show: second summary lists the first group"; else ok; fi
run show "$A"
contains "show: a replaced commit names its compression" "$OUT" "Summarized: in compression "
contains "show: ... and its summary" "$OUT" "by $SUM1"
run show "$A" --json
eq "show --json compressed_by" "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["compressed_by"]["results"][0])')" "$SUM1"
run show "$E" --json
eq "show --json: no compression on a plain commit" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("compression" in d, "compressed_by" in d)')" "False False"
eq "old commits still there" "$("$TRACT" --db "$DB" compile --at "$F" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["messages"]))')" "7"
# the pinned copy stays pinned: a whole-branch compress keeps it
expect_ok "compress the whole branch" compress --summary "S1" --summary "S2"
eq "pinned kept" "$(compiled)" "Be brief.|S1|The budget is 40k.|S2"
# --preserve and a single REV (root through REV)
G=$(c user "one more")
expect_ok "compress REV with --preserve" compress HEAD~1 --preserve HEAD~1 --summary "S"
eq "preserve" "$(compiled)" "Be brief.|S|The budget is 40k.|S2|one more"

# ---- review, from other processes --------------------------------------------------------
H=$(c user "The code word is pelican. It matters.")
J=$(c assistant "Pelican noted.")
expect_ok "llm dry run" compress "$H.." --llm --provider example --dry-run
contains "draft" "$OUT" "summary: Previously in this conversation:"
LOGB=$("$TRACT" --db "$DB" log --all --json)
expect_ok "review" compress "$H.." --llm --provider example --review
ID=$(printf '%s\n' "$OUT" | head -1)
eq "id shape" "${#ID}" "32"
eq "review writes no commit" "$("$TRACT" --db "$DB" log --all --json)" "$LOGB"
expect_ok "list" compress --list
eq "listed" "$OUT" "$ID"
expect_ok "show" compress --show "$ID" --json
contains "show json" "$OUT" "\"summaries\""
expect_ok "approve" compress --approve "$ID"
contains "approved" "$OUT" "Compressed 2 commits into 1 summary"
contains "pelican kept" "$(compiled)" "Previously in this conversation:"
expect_fail "approve twice" compress --approve "$ID"
expect_ok "records" compress --records --json
eq "records: four compressions, sources and summaries" \
	"$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), [len(r["sources"]) for r in d], [len(r["results"]) for r in d])')" \
	"4 [3, 4, 1, 2] [2, 2, 1, 1]"
expect_ok "records, human" compress --records
contains "records human" "$OUT" "source  ${A:0:8}"
# stale: the range left the branch
K=$(c user "to be reset")
expect_ok "review 2" compress "$K.." --summary "zzz" --review
ID=$(printf '%s\n' "$OUT" | head -1)
"$TRACT" --db "$DB" reset --hard HEAD~1 >/dev/null
c user "something else" >/dev/null
BEFORE=$(state)
expect_fail "stale approval" compress --approve "$ID"
eq "stale writes nothing" "$(state)" "$BEFORE"
expect_ok "discard" compress --discard "$ID"
expect_fail "discard twice" compress --discard "$ID"
expect_ok "list empty" compress --list
eq "none left" "$OUT" ""

# ---- detached HEAD ------------------------------------------------------------------
"$TRACT" --db "$DB" checkout HEAD~1 >/dev/null 2>&1
expect_fail "detached" compress --summary x
"$TRACT" --db "$DB" switch main >/dev/null 2>&1

run fsck
eq "fsck clean" "$RC" "0"

# ---- the auto-compress budget policy ----------------------------------------------------
DB=$TMP/budget.db
"$TRACT" --db "$DB" init >/dev/null
expect_usage "--target-fraction 0" budget --target-fraction 0
expect_usage "--target-fraction 1.5" budget --target-fraction 1.5
expect_usage "--target-fraction x" budget --target-fraction x
expect_usage "--auto-compress with --auto-compact" budget --auto-compress --auto-compact
expect_usage "--auto-compress with --no-auto-compact" budget --auto-compress --no-auto-compact
for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
	c user "Turn $i: the quarterly report lists revenue, costs, hiring plans, vendor contracts and the roadmap for region $i." >/dev/null
done
P1=$("$TRACT" --db "$DB" log --json -n 100 | python3 -c 'import json,sys; print(json.load(sys.stdin)[-2]["commit_hash"])')
"$TRACT" --db "$DB" annotate "$P1" pinned >/dev/null
USED=$("$TRACT" --db "$DB" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_count"])')
expect_ok "budget --auto-compress" budget $((USED + 10)) --auto-compress --target-fraction 0.6 --json
eq "budget json" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["auto_compact"], d["auto_compress"], d["target_fraction"])')" "True True 0.6"
expect_ok "budget shows the policy" budget
contains "budget human" "$OUT" "auto-compress down to 0.6"
# no provider stored: the commit warns, nothing is compressed
BEFORE=$("$TRACT" --db "$DB" compress --records --json)
run commit user "A long new question about every region's hiring plans, vendor contracts and costs."
eq "commit without provider succeeds" "$RC" "0"
contains "warns why" "$ERR" "auto-compress policy: cannot compress: no LLM provider"
eq "no compression" "$("$TRACT" --db "$DB" compress --records --json)" "$BEFORE"
"$TRACT" --db "$DB" reset --hard HEAD~1 >/dev/null 2>&1
# with the tract's stored provider (the example plugin, extractive)
"$TRACT" --db "$DB" generate --provider example --save >/dev/null 2>&1 || true
"$TRACT" --db "$DB" reset --hard HEAD~1 >/dev/null 2>&1
run commit user "A long new question about every region's hiring plans, vendor contracts and costs."
eq "commit with provider succeeds" "$RC" "0"
run compress --records --json
eq "one compression" "$(echo "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" "1"
run status --json
eq "under the budget" "$(echo "$OUT" | python3 -c "import json,sys; print(json.load(sys.stdin)['token_count'] <= $((USED + 10)))")" "True"
contains "the pinned turn stays" "$(compiled)" "Turn 1: the quarterly report"
contains "the newest turn stays" "$(compiled)" "Turn 11: the quarterly report"
contains "the new question on top" "$(compiled)" "A long new question"
run log
contains "log marks the policy's summary" "$OUT" "[compressed "
run fsck
eq "fsck clean after the policy" "$RC" "0"
expect_ok "policy off" budget --no-auto-compact --json
eq "policy off json" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["auto_compact"], d["auto_compress"])')" "False False"

# ---- the reference's compression (schema 3 file) ---------------------------------------
if [[ -n ${TRACT_FIXTURES:-} ]]; then
	cp "$TRACT_FIXTURES/v3_basic.db" "$TMP/v3.db"
	DB=$TMP/v3.db
	REF=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))["compressions"][0]
print(d["tract_id"], d["results"][0], " ".join(d["sources"]))' "$TRACT_FIXTURES/v3_basic.expected.json")
	read -r RTRACT RSUM RSOURCES <<<"$REF"
	run --tract "$RTRACT" show "$RSUM" --json
	eq "reference summary: its sources" "$(echo "$OUT" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["compression"]["sources"]))')" "$RSOURCES"
	eq "reference summary: replaced" "$(echo "$OUT" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["replaced"]))')" "$RSOURCES"
	run --tract "$RTRACT" log
	contains "reference summary marked in log" "$OUT" "[compressed 7 commits]"
else
	bad "TRACT_FIXTURES is not set"
fi

finish "compress-cli"
