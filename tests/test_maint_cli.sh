#!/usr/bin/env bash
# test_maint_cli.sh - maintenance commands on a SQLite store. `tract gc`:
# nothing to do, a dry run that lists and writes nothing, the removal of
# orphans with --json, retention, --branch, errors that write nothing,
# fsck clean after (the history is moved with sqlite3, as a reset leaves
# it). `tract reorder`: the order, its warnings, --strict, --json.
# Usage: test_maint_cli.sh PATH/TO/tract
set -euo pipefail

TRACT=${1:?usage: test_maint_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
unset TRACT_DB TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-maint-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
command -v sqlite3 >/dev/null || { echo "test_maint_cli: sqlite3 not found" >&2; exit 1; }

same() { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', expected '$3'"; fi; }
contains() { case $3 in *"$2"*) ok ;; *) bad "$1: '$2' not in: $3" ;; esac; }
rows() { sqlite3 .tract.db "select count(*) from $1"; }

"$TRACT" init >/dev/null
for i in 1 2 3 4 5; do eval "C$i=\$(\"$TRACT\" commit user \"m$i\")"; done

out=$("$TRACT" gc --retention-days 0)
same "nothing to collect" "$out" "Removed 0 commit(s) (0 archived), 0 token(s), 0 blob(s)"

# main back to C2: C3..C5 are orphans
sqlite3 .tract.db "update refs set commit_hash='$C2' where ref_name='refs/heads/main'"
out=$("$TRACT" gc)
same "young orphans kept by the default retention" "$out" "Removed 0 commit(s) (0 archived), 0 token(s), 0 blob(s)"
out=$("$TRACT" gc --dry-run --retention-days 0)
contains "dry run lists C3" "would remove ${C3:0:8}" "$out"
contains "dry run lists C5" "would remove ${C5:0:8}" "$out"
contains "dry run sums" "Would remove 3 commit(s)" "$out"
same "dry run writes nothing" "$(rows commits)" 5

# a branch keeps C4 (and C3)
sqlite3 .tract.db "insert into refs(tract_id, ref_name, commit_hash) select tract_id, 'refs/heads/keep', '$C4' from refs limit 1"
json=$("$TRACT" gc --retention-days 0 --json)
contains "--json counts" '"commits_removed": 1' "$json"
contains "--json names C5" "\"$C5\"" "$json"
same "C3 and C4 kept by the branch" "$(rows commits)" 4
same "C5's blob gone" "$(rows blobs)" 4

# --branch main: keep's commits go, and the keep ref with them
json=$("$TRACT" gc --retention-days 0 --branch main --json)
contains "--branch removes the other branch's commits" '"commits_removed": 2' "$json"
same "the keep ref went with its commit" "$(sqlite3 .tract.db "select count(*) from refs where ref_name='refs/heads/keep'")" 0
same "two commits left" "$(rows commits)" 2
"$TRACT" fsck >/dev/null && ok || bad "fsck after gc"
same "log after gc" "$("$TRACT" log --oneline | wc -l)" 2

# errors: exit 1 or 2, one message, nothing written
rc=0
"$TRACT" gc --branch ghost 2>"$TMP/err" || rc=$?
same "unknown branch: exit 1" "$rc" 1
contains "unknown branch named" "Branch not found: ghost" "$(cat "$TMP/err")"
rc=0
"$TRACT" gc --retention-days -1 2>/dev/null || rc=$?
same "negative retention: usage" "$rc" 2
same "errors wrote nothing" "$(rows commits)" 2
"$TRACT" gc --help | grep -q -- '--archive-retention-days' && ok || bad "gc --help"

# ---- reorder ----
mkdir r && cd r
"$TRACT" init >/dev/null
Q=$("$TRACT" commit user 'question')
A=$("$TRACT" commit assistant 'answer' --response-to "$Q")
T=$("$TRACT" commit user 'thanks')
out=$("$TRACT" reorder "$T" 2>"$TMP/err")
same "reorder: the named message first" "$(printf '%s' "$out" | head -n 2 | tr '\n' ' ')" "[user] thanks "
same "reorder: no warning" "$(cat "$TMP/err")" ""
json=$("$TRACT" reorder "$A" --json 2>"$TMP/err")
same "reorder --json: first hash" "$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["commit_hashes"][0])')" "$A"
contains "reorder: the chain break is warned" "warning: response_chain_break (semantic)" "$(cat "$TMP/err")"
rc=0
"$TRACT" reorder "$A" --strict >/dev/null 2>"$TMP/err" || rc=$?
same "reorder --strict: exit 1" "$rc" 1
same "reorder --strict: one line" "$(wc -l <"$TMP/err")" 1
rc=0
"$TRACT" reorder "$T" "$T" >/dev/null 2>&1 || rc=$?
same "reorder: a message twice" "$rc" 1
rc=0
"$TRACT" reorder >/dev/null 2>&1 || rc=$?
same "reorder: no REF is a usage error" "$rc" 2
cd ..

finish "test_maint_cli"
