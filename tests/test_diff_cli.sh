#!/usr/bin/env bash
# test_diff_cli.sh - `tract diff` and `tract log --graph` end to end: the
# layout of spec/history.md §12.4 (hello/bob example of §11.5), --stat,
# --json, the argument defaults (none: HEAD against its parent, an edit
# against the context before it; one: A against HEAD; a root against
# "(empty)"), usage and lookup errors; log --graph --oneline --all on the
# reference's fixture with branches and a merge, compared with the drawing
# git prints for the same commits (made once with git commit-tree in the
# same order, hashes swapped for tract's; pasted below).
# Usage: test_diff_cli.sh PATH/TO/tract   (TRACT_FIXTURES: fixture directory)
set -euo pipefail

TRACT=${1:?usage: test_diff_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
FIXTURES=${TRACT_FIXTURES:?TRACT_FIXTURES is not set}
unset TRACT_DB TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-diff-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# same DESC GOT WANT
same() {
	if [ "$2" == "$3" ]; then
		PASS=$((PASS + 1))
	else
		bad "$1"
		diff <(printf '%s\n' "$3") <(printf '%s\n' "$2") >&2 || true
	fi
}
# status DESC WANT CMD...: exit status of CMD
status() {
	local desc=$1 want=$2 got=0
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err" || got=$?
	if [ "$got" -eq "$want" ]; then PASS=$((PASS + 1)); else bad "$desc: exit $got, want $want ($(cat "$TMP/err"))"; fi
}

export TRACT_DB=$TMP/t.db
"$TRACT" init >/dev/null
A=$("$TRACT" commit user 'Hello, how are you?')
B=$("$TRACT" commit user --edit "$A" --name bob 'Hello, how are you today?')
A8=${A:0:8}
B8=${B:0:8}

# §11.5's example through the command: an edit alone against its parent
same "diff of an edit (HEAD)" "$("$TRACT" diff)" "diff $A8 $B8

~~~ message [0] role=user -> user
--- commit $A8
+++ commit $B8
@@ -1,3 +1,4 @@
 role: user
+name: bob
 ---
-Hello, how are you?
+Hello, how are you today?

+0 added  -0 removed  ~1 modified  =0 unchanged
Token delta: +$(("$("$TRACT" compile --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_count"])')" - "$("$TRACT" compile --json --at "$A" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_count"])')"))"
same "diff A B equals the default" "$("$TRACT" diff "$A" "$B")" "$("$TRACT" diff)"

C=$("$TRACT" commit assistant 'Fine.' --config '{"temperature":0.5,"model":"gpt-4"}')
D=$("$TRACT" commit user 'Good.' --config '{"temperature":0.9,"model":"gpt-4","seed":7}')
# one argument: A against HEAD
same "diff A: A against HEAD (stat)" "$("$TRACT" diff --stat "$B")" "+2 added  -0 removed  ~0 modified  =1 unchanged
Token delta: +$(("$("$TRACT" compile --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_count"])')" - "$("$TRACT" compile --json --at "$B" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_count"])')"))

Config changes:
  model: null -> \"gpt-4\"
  seed: null -> 7
  temperature: null -> 0.9"
same "config changes sorted, values as JSON" "$("$TRACT" diff --stat "$C" "$D" | sed -n '3,$p')" "
Config changes:
  seed: null -> 7
  temperature: 0.5 -> 0.9"
out=$("$TRACT" diff "$C" "$D")
same "added message header" "$(printf '%s\n' "$out" | sed -n 3p)" "+++ message [2] role=user"
out=$("$TRACT" diff "$D" "$C")
same "removed message header" "$(printf '%s\n' "$out" | sed -n 3p)" "--- message [2] role=user"
# JSON shape
out=$("$TRACT" diff --json "$B" "$D" | python3 -c '
import json,sys
d=json.load(sys.stdin)
print(sorted(d), sorted(d["stat"]), sorted(d["messages"][0]), d["config_changes"]["seed"], d["commit_b"] == "'"$D"'")')
same "diff --json keys" "$out" "['commit_a', 'commit_b', 'config_changes', 'messages', 'stat'] ['added', 'modified', 'removed', 'total_token_delta', 'unchanged'] ['index', 'lines', 'role_a', 'role_b', 'status', 'token_delta'] [None, 7] True"
out=$("$TRACT" diff --json "$A" "$B" | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"][0]["lines"][2:4])')
same "modified lines in JSON" "$out" "['@@ -1,3 +1,4 @@', ' role: user']"
same "diff X X: nothing changed" "$("$TRACT" diff --stat "$C" "$C")" "+0 added  -0 removed  ~0 modified  =2 unchanged"
same "-U 0 (difflib's ranges)" "$("$TRACT" diff -U 0 "$A" "$B" | sed -n '6,8p')" "@@ -1,0 +2 @@
+name: bob
@@ -3 +4 @@"

# errors
status "unknown revision" 1 "$TRACT" diff nosuch
same "unknown revision message" "$(cat "$TMP/err")" "tract: Commit not found: nosuch"
status "short prefix" 1 "$TRACT" diff abc
status "three arguments" 2 "$TRACT" diff "$A" "$B" "$C"
status "bad option" 2 "$TRACT" diff --bogus
status "diff --help" 0 "$TRACT" diff --help
grep -q "against HEAD" "$TMP/out" && PASS=$((PASS + 1)) || bad "diff --help explains one argument"
export TRACT_DB=$TMP/empty.db
"$TRACT" init >/dev/null
status "no commits" 1 "$TRACT" diff
same "no commits message" "$(cat "$TMP/err")" "tract: No commits to diff"
same "log --graph of an empty tract" "$("$TRACT" log --graph)" "No commits."
# a root commit (HEAD) against the empty context
R=$("$TRACT" commit system 'Be brief.')
out=$("$TRACT" diff --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["commit_a"], d["stat"]["added"], d["messages"][0]["status"], d["messages"][0]["role_a"], d["messages"][0]["token_delta"] > 0)')
same "root against (empty), JSON" "$out" "(empty) 1 added None True"
same "root, text" "$("$TRACT" diff)" "diff (empty) ${R:0:8}

+++ message [0] role=system

+1 added  -0 removed  ~0 modified  =0 unchanged
Token delta: +$("$TRACT" compile --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_count"] - 3)')"

# ---- log --graph ------------------------------------------------------------------
cp "$FIXTURES/v2_basic.db" "$TMP/v2.db"
export TRACT_DB=$TMP/v2.db
cut_text() { sed -E 's/^([^0-9a-f]*[0-9a-f]{8}( \([^)]*\))?).*/\1/'; }
# git log --graph --oneline --decorate --all, same commits, same order
same "trip-planner: log --graph --oneline --all" \
	"$("$TRACT" --tract 7a66d992e25b443abed5fe0d7a67f06d log --graph --oneline --all | cut_text)" \
	"* 858a1915 (HEAD -> main)
*   f913cdad
|\\  
| * 79183b73 (food)
| * e48b84fd
* | cee6b83a
* | 27951f2d
|/  
* 31f72744 (budget)
* ba896580
* 01745b83
* ba35aa4a
* 7a9be14a"
same "release-notes: log --graph --oneline --all" \
	"$("$TRACT" --tract 2a33f892b40c4ab18d7d56eacca042c8 log --graph --oneline --all | cut_text)" \
	"* a4925881 (HEAD -> main)
| * a41ac532 (hotfix)
|/  
| * 2de849e5 (feature)
| * bec97cfd
|/  
* e646c2d1
* 8fd2f7b8
* 018c53e0
* 782ca231
* fb4477e2"
same "oneline text after the hash" \
	"$("$TRACT" --tract 7a66d992e25b443abed5fe0d7a67f06d log --graph --oneline -n 2)" \
	"* 858a1915 (HEAD -> main) Great, thanks!
*   f913cdad Merge branch 'food' into main
|\\  "
same "without --all: HEAD's history" \
	"$("$TRACT" --tract 2a33f892b40c4ab18d7d56eacca042c8 log --graph --oneline | cut_text | head -3)" \
	"* a4925881 (HEAD -> main)
* e646c2d1
* 8fd2f7b8"
same "REF" \
	"$("$TRACT" --tract 2a33f892b40c4ab18d7d56eacca042c8 log --graph --oneline feature | cut_text | head -2)" \
	"* 2de849e5 (feature)
* bec97cfd"
same "--graph without --oneline: date and operation" \
	"$("$TRACT" --tract 7a66d992e25b443abed5fe0d7a67f06d log --graph -n 1 | sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}/DATE/')" \
	"* 858a1915 DATE append (HEAD -> main) Great, thanks!"
# plain log is unchanged: first parents only, --all means every commit
same "plain log --all --oneline" \
	"$("$TRACT" --tract 7a66d992e25b443abed5fe0d7a67f06d log --all --oneline | wc -l)" "9"
status "--graph --json" 2 "$TRACT" --tract 7a66d992e25b443abed5fe0d7a67f06d log --graph --json
status "--graph unknown REF" 1 "$TRACT" --tract 7a66d992e25b443abed5fe0d7a67f06d log --graph nosuch

finish "test_diff_cli"
