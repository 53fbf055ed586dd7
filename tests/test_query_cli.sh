#!/usr/bin/env bash
# test_query_cli.sh - `tract timeline`, `tract search` and `tract wait` end
# to end on a store of two tracts: order and filters of the timeline, its
# --json; search of message text (not JSON keys), case rule, filters,
# --json with tract, commit and snippet; wait woken by another process,
# its timeout (exit 1), --past and --json; usage errors (exit 2).
# Usage: test_query_cli.sh PATH/TO/tract [sqlite|lmdb]
set -euo pipefail

TRACT=${1:?usage: test_query_cli.sh PATH/TO/tract [sqlite|lmdb]}
KIND=${2:-sqlite}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
unset TRACT_DB TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-query-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

same() {
	if [ "$2" == "$3" ]; then
		PASS=$((PASS + 1))
	else
		bad "$1"
		diff <(printf '%s\n' "$3") <(printf '%s\n' "$2") >&2 || true
	fi
}
status() {
	local desc=$1 want=$2 got=0
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err" || got=$?
	if [ "$got" -eq "$want" ]; then PASS=$((PASS + 1)); else bad "$desc: exit $got, want $want ($(cat "$TMP/err"))"; fi
}
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

case $KIND in
sqlite) export TRACT_DB=$TMP/t.db ;;
lmdb) export TRACT_DB=lmdb:$TMP/store ;;
*) echo "unknown store kind $KIND" >&2; exit 2 ;;
esac

TA=$("$TRACT" init --name alpha)
TB=$("$TRACT" init --name beta)
A1=$("$TRACT" --tract "$TA" commit user 'What is the ROLE of a zebra?')
sleep 0.01
B1=$("$TRACT" --tract "$TB" commit assistant 'The content_type field says dialogue.')
sleep 0.01
A2=$("$TRACT" --tract "$TA" commit instruction 'Mention zebras when asked.')
sleep 0.01
MID=$(python3 -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).isoformat())')
sleep 0.01
B2=$("$TRACT" --tract "$TB" commit user 'Nothing to see here.')

# --- timeline ---
same "timeline: every tract, oldest first" \
	"$("$TRACT" timeline --json | jq_py '" ".join(c["commit_hash"][:8] for c in d)')" \
	"${A1:0:8} ${B1:0:8} ${A2:0:8} ${B2:0:8}"
same "timeline --json names the tract" \
	"$("$TRACT" timeline --json | jq_py '" ".join(c["tract_id"] for c in d)')" "$TA $TB $TA $TB"
same "timeline --tract" "$("$TRACT" timeline --tract "$TB" --json | jq_py 'len(d)')" 2
same "timeline --type" \
	"$("$TRACT" timeline --type instruction --json | jq_py 'd[0]["commit_hash"]')" "$A2"
same "timeline --since" "$("$TRACT" timeline --since "$MID" --json | jq_py 'len(d)')" 1
same "timeline --until -n 1" \
	"$("$TRACT" timeline --until "$MID" -n 1 --json | jq_py 'd[0]["commit_hash"]')" "$A1"
out=$("$TRACT" timeline)
same "timeline: one line a commit" "$(printf '%s\n' "$out" | wc -l)" 4
case $(printf '%s\n' "$out" | sed -n 3p) in
*"${TA:0:12}  ${A2:0:8}  instruction  Mention zebras when asked."*) PASS=$((PASS + 1)) ;;
*) bad "timeline human line: $(printf '%s\n' "$out" | sed -n 3p)" ;;
esac

# --- search ---
same "search: message text, case-insensitive, across tracts" \
	"$("$TRACT" search ZEBRA --json | jq_py '" ".join(h["commit_hash"] for h in d)')" "$A1 $A2"
same "search: keys of the JSON never match" "$("$TRACT" search '"role"' --json | jq_py 'len(d)')" 0
same "search: words in a message do" \
	"$("$TRACT" search content_type --json | jq_py 'd[0]["tract_id"]')" "$TB"
same "search --tract" "$("$TRACT" search zebra --tract "$TB" --json | jq_py 'len(d)')" 0
same "search --type" \
	"$("$TRACT" search zebra --type dialogue --json | jq_py 'd[0]["commit_hash"]')" "$A1"
same "search --branch" \
	"$("$TRACT" search zebra --tract "$TA" --branch main --json | jq_py 'len(d)')" 2
same "search snippet" \
	"$("$TRACT" search zebra --type instruction --json | jq_py 'd[0]["snippet"]')" \
	"Mention zebras when asked."
case $("$TRACT" search zebras) in
*"${TA:0:12}  ${A2:0:8}  Mention zebras when asked."*) PASS=$((PASS + 1)) ;;
*) bad "search human line" ;;
esac
same "search: no match prints nothing" "$("$TRACT" search 'no such words')" ""
status "search without text" 2 "$TRACT" search
status "search --branch without --tract" 2 "$TRACT" search zebra --branch main
status "search: unknown branch" 1 "$TRACT" search zebra --tract "$TA" --branch nope
grep -q "not found" "$TMP/err" && PASS=$((PASS + 1)) || bad "unknown branch message"

# --- wait ---
status "wait: timeout exits 1" 1 "$TRACT" --tract "$TA" wait --timeout 0.1
grep -q "^tract: timed out" "$TMP/err" && PASS=$((PASS + 1)) || bad "timeout message: $(cat "$TMP/err")"
same "wait --past an older commit returns at once" \
	"$("$TRACT" wait --tract "$TA" --past "$A1" --timeout 0)" "$A2"
"$TRACT" wait --tract "$TA" --timeout 20 --json >"$TMP/waited" &
WPID=$!
sleep 0.5
A3=$("$TRACT" --tract "$TA" commit assistant 'Zebras have stripes.')
if wait "$WPID"; then PASS=$((PASS + 1)); else bad "wait woken by another process failed"; fi
same "wait --json: the new head" "$(jq_py 'd["head"]' <"$TMP/waited")" "$A3"
same "wait --json: the tract" "$(jq_py 'd["tract_id"]' <"$TMP/waited")" "$TA"
"$TRACT" wait --tract "$TB" --ref main --past "$B2" --timeout 20 >"$TMP/waited" &
WPID=$!
sleep 0.3
B3=$("$TRACT" --tract "$TB" commit user 'moved')
if wait "$WPID"; then PASS=$((PASS + 1)); else bad "wait --ref failed"; fi
same "wait --ref main prints the new commit" "$(cat "$TMP/waited")" "$B3"
status "wait --timeout x" 2 "$TRACT" wait --timeout x
status "wait --past unknown" 1 "$TRACT" --tract "$TA" wait --past nosuch --timeout 1

# --- timeline --graph: spawn and collapse links (SQLite: the spawn
# pointer is written as the reference writes it) ---
if [ "$KIND" = sqlite ]; then
	TC=$("$TRACT" init --name child)
	python3 - "$TMP/t.db" "$TA" "$TC" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO spawn_pointers (parent_tract_id, parent_commit_hash, child_tract_id,"
           " purpose, inheritance_mode, created_at) VALUES (?, NULL, ?, 'look', 'head_snapshot',"
           " '2026-01-01 00:00:00')", (sys.argv[2], sys.argv[3]))
db.commit()
PY
	C1=$("$TRACT" --tract "$TC" commit user 'child work')
	CC=$("$TRACT" --tract "$TA" commit assistant 'what the child found' \
		--metadata "{\"collapse_source_tract_id\": \"$TC\"}")
	out=$("$TRACT" timeline --graph)
	case $out in
	*"\\  ${TC:0:12} spawned from ${TA:0:12}"*) PASS=$((PASS + 1)) ;;
	*) bad "timeline --graph: no spawn line"; printf '%s\n' "$out" >&2 ;;
	esac
	case $(printf '%s\n' "$out" | grep "${CC:0:8}") in
	"* "*"collapse of ${TC:0:12}  what the child found") PASS=$((PASS + 1)) ;;
	*) bad "timeline --graph: no collapse line"; printf '%s\n' "$out" >&2 ;;
	esac
	case $(printf '%s\n' "$out" | grep "${C1:0:8}") in
	"| | *  "*) PASS=$((PASS + 1)) ;;
	*) bad "timeline --graph: the child's lane"; printf '%s\n' "$out" >&2 ;;
	esac
	status "timeline --graph --json" 2 "$TRACT" timeline --graph --json
fi

# --- wait --collapsed: woken by the child's collapse, not by other commits ---
WC=$("$TRACT" --tract "$TA" spawn --purpose 'count the zebras')
SPAWNED=$("$TRACT" --tract "$TA" log -n 1 --json | jq_py 'd[0]["commit_hash"]')
status "wait --collapsed: nothing collapsed yet" 1 \
	"$TRACT" --tract "$TA" wait --collapsed "$WC" --past "$SPAWNED" --timeout 0.1
grep -q "collapse of $WC" "$TMP/err" && PASS=$((PASS + 1)) || bad "collapse timeout message: $(cat "$TMP/err")"
"$TRACT" --tract "$TA" wait --collapsed "$WC" --past "$SPAWNED" --timeout 20 --json >"$TMP/waited" &
WPID=$!
sleep 0.3
"$TRACT" --tract "$WC" commit assistant 'Seven zebras.' >/dev/null
"$TRACT" --tract "$TA" commit user 'not a collapse' >/dev/null
sleep 0.3
COL=$("$TRACT" --tract "$TA" collapse "$WC" --summary 'Seven zebras counted.' --json |
	jq_py 'd["parent_commit_hash"]')
if wait "$WPID"; then PASS=$((PASS + 1)); else bad "wait --collapsed failed"; fi
same "wait --collapsed --json: the collapse commit" \
	"$(jq_py 'd["collapse_commit"]' <"$TMP/waited")" "$COL"
same "wait --collapsed --json: the child" "$(jq_py 'd["child_tract_id"]' <"$TMP/waited")" "$WC"
same "wait --collapsed: already collapsed returns at once" \
	"$("$TRACT" --tract "$TA" wait --collapsed "$WC" --past "$SPAWNED" --timeout 0)" "$COL"
status "wait --collapsed: not a child" 1 "$TRACT" --tract "$TA" wait --collapsed nosuch --timeout 0
status "wait --collapsed: another tract's child" 1 \
	"$TRACT" --tract "$TB" wait --collapsed "$WC" --timeout 0

# --- compile --at-time before a reset --hard (the ref log) ---
TR=$("$TRACT" init --name rewound)
R1=$("$TRACT" --tract "$TR" commit user 'kept')
"$TRACT" --tract "$TR" commit user 'dropped by the reset' >/dev/null
sleep 0.01
BEFORE=$(date -u +%Y-%m-%dT%H:%M:%S.%6N)
sleep 0.01
"$TRACT" --tract "$TR" reset --hard "$R1" >/dev/null
"$TRACT" --tract "$TR" commit user 'after the reset' >/dev/null
same "compile --at-time before a reset: the old line" \
	"$("$TRACT" --tract "$TR" compile --at-time "$BEFORE" --json | jq_py '"|".join(m["content"] for m in d["messages"])')" \
	"kept|dropped by the reset"
same "compile now: the new line" \
	"$("$TRACT" --tract "$TR" compile --json | jq_py '"|".join(m["content"] for m in d["messages"])')" \
	"kept|after the reset"

finish "test_query_cli ($KIND)"
