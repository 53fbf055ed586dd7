#!/usr/bin/env bash
# test_merge_cli.sh - `tract merge` end to end (history.md §12.9, CLI.md):
# fast-forward, already up to date, --no-ff, a clean merge commit, conflicts
# listed with both sides' commits (exit 1, nothing written), --json, the
# strategies, errors (exit 1) and usage (exit 2).
# The branches are made with `tract branch` and `tract switch`.
# Usage: test_merge_cli.sh PATH/TO/tract
set -euo pipefail

TRACT=${1:?usage: test_merge_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
unset TRACT_DB TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-merge-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# jv EXPR: a Python expression over the JSON of $OUT (d).
jv() { printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if isinstance(r,str) else json.dumps(r))' "$1"; }

# c ARGS: commit, print the hash.
c() { "$TRACT" commit "$@" </dev/null; }
# unborn: attach HEAD to a branch without commits (no command makes one:
# `branch` and `switch -c` need a commit), straight in the SQLite file.
unborn() {
	python3 - "$DB" "$TID" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE refs SET commit_hash = NULL, symbolic_target = 'refs/heads/unborn' "
          "WHERE tract_id = ? AND ref_name = 'HEAD'", (sys.argv[2],))
c.commit()
PY
}
head_hash() { "$TRACT" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["head"])'; }
# state: every commit, ref and row count (for "nothing written")
state() {
	{ "$TRACT" log --all --json; "$TRACT" status --json; } 2>&1 | md5sum
	python3 - "$DB" <<'PY' 2>/dev/null || true
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for (t,) in c.execute("select name from sqlite_master where type='table' order by name"):
    print(t, c.execute('select count(*) from "%s"' % t).fetchone()[0])
for row in c.execute("select * from refs order by ref_name"):
    print(row)
PY
}

new_store() {
	DB=$TMP/$1.db
	export TRACT_DB=$DB
	TID=$("$TRACT" init)
}

# ---- help and usage (exit 2, nothing opened) ---------------------------------------

run merge --help
eq "help exit" "$RC" 0
contains "help text" "$OUT" "Merge BRANCH into the current branch"
contains "help strategy" "$OUT" "--strategy"
run --help
contains "listed in tract --help" "$OUT" "merge"
export TRACT_DB=$TMP/none.db
run merge
eq "no branch: usage" "$RC" 2
contains "no branch message" "$ERR" "missing BRANCH"
run merge a b
eq "two branches: usage" "$RC" 2
run merge --strategy semantic feature
eq "bad strategy: usage" "$RC" 2
contains "bad strategy message" "$ERR" "--strategy must be ours or theirs"
run merge --strategy
eq "strategy without value: usage" "$RC" 2
run merge --bogus feature
eq "unknown option: usage" "$RC" 2
run merge ""
eq "empty branch: usage" "$RC" 2
[[ ! -e $TMP/none.db ]] && ok || bad "usage errors created the store"

# ---- fast-forward, up to date ------------------------------------------------------------

new_store ff
A=$(c user "a")
"$TRACT" branch feature "$A" >/dev/null
"$TRACT" switch feature >/dev/null
B=$(c user "b")
C=$(c assistant "c")
"$TRACT" switch main >/dev/null
run merge feature
eq "ff exit" "$RC" 0
eq "ff line" "$OUT" "Fast-forward: feature -> ${C:0:8}"
eq "ff moved main" "$(head_hash)" "$C"
run status --json
contains "still on main" "$OUT" '"branch": "main"'
run merge feature
eq "up to date exit" "$RC" 0
eq "up to date line" "$OUT" "Already up to date."
run merge main
eq "merge into itself" "$OUT" "Already up to date."
run merge --json feature
eq "up to date json exit" "$RC" 0
eq "up to date json type" "$(jv 'd["merge_type"]')" "up_to_date"

# ---- --no-ff and a clean merge -------------------------------------------------------------

new_store noff
A=$(c user "a")
"$TRACT" branch feature "$A" >/dev/null
"$TRACT" switch feature >/dev/null
B=$(c user "b")
"$TRACT" switch main >/dev/null
run merge --no-ff feature
eq "no-ff exit" "$RC" 0
M=$(head_hash)
eq "no-ff line" "$OUT" "Merged feature into main (merge commit: ${M:0:8})"
run log --json -n 1
eq "merge commit message" "$(jv 'd[0]["message"]')" "Merge branch 'feature' into main"
eq "merge commit type" "$(jv 'd[0]["content_type"]')" "freeform"
eq "first parent" "$(jv 'd[0]["parent_hash"]')" "$A"
run compile --json
eq "merge compiles to no message" "$(jv '[m["content"] for m in d["messages"]]')" '["a", "b"]'
run fsck
eq "fsck after no-ff" "$RC" 0

new_store clean
R=$(c user "root")
"$TRACT" branch feature "$R" >/dev/null
"$TRACT" switch feature >/dev/null
F1=$(c user "f1")
"$TRACT" switch main >/dev/null
M1=$(c user "m1")
run merge --json feature
eq "clean json exit" "$RC" 0
eq "clean type" "$(jv 'd["merge_type"]')" "clean"
eq "clean committed" "$(jv 'd["committed"]')" "true"
eq "clean base" "$(jv 'd["merge_base_hash"]')" "$R"
eq "clean tips" "$(jv '[d["target_tip_hash"], d["source_tip_hash"]]')" "[\"$M1\", \"$F1\"]"
eq "clean commit is head" "$(jv 'd["merge_commit_hash"]')" "$(head_hash)"
eq "clean auto-merged" "$(jv 'd["auto_merged"]')" "[\"$M1\", \"$F1\"]"
run compile --json
eq "clean compile order" "$(jv '[m["content"] for m in d["messages"]]')" '["root", "m1", "f1"]'

# ---- conflicts ------------------------------------------------------------------------------

new_store conflict
X=$(c user "x")
"$TRACT" branch feature "$X" >/dev/null
"$TRACT" switch feature >/dev/null
BX=$(c user "x by feature" --edit "$X")
"$TRACT" switch main >/dev/null
AX=$(c user "x by main" --edit "$X")
before=$(state)
run merge feature
eq "conflict exit" "$RC" 1
contains "conflict header" "$OUT" "CONFLICT: 1 conflict(s) detected; nothing was written."
contains "conflict line with both sides" "$OUT" "  - both_edit: target ${X:0:8} (main: ${AX:0:8}, feature: ${BX:0:8})"
contains "conflict error line" "$ERR" "tract: merge of 'feature' stopped on 1 unresolved conflict(s)"
eq "conflict: one error line" "$(printf '%s\n' "$ERR" | wc -l)" 1
eq "conflict wrote nothing" "$(state)" "$before"
run merge --json feature
eq "conflict json exit" "$RC" 1
eq "conflict json type" "$(jv 'd["merge_type"]')" "conflict"
eq "conflict json committed" "$(jv 'd["committed"]')" "false"
eq "conflict json kind" "$(jv 'd["conflicts"][0]["conflict_type"]')" "both_edit"
eq "conflict json sides" "$(jv '[d["conflicts"][0]["commit_a"], d["conflicts"][0]["commit_b"]]')" "[\"$AX\", \"$BX\"]"
eq "conflict json texts" "$(jv '[d["conflicts"][0]["content_a_text"], d["conflicts"][0]["content_b_text"]]')" '["x by main", "x by feature"]'
eq "conflict json key" "$(jv 'd["conflicts"][0]["key"]')" "$X"
eq "conflict json unresolved" "$(jv 'd["unresolved"]')" 1
eq "conflict json merge commit" "$(jv 'd["merge_commit_hash"]')" "null"
eq "conflict json wrote nothing" "$(state)" "$before"
run merge --strategy THEIRS feature
eq "theirs exit" "$RC" 0
M=$(head_hash)
contains "theirs line" "$OUT" "Merged feature into main with 1 conflict(s) resolved by strategy theirs (merge commit: ${M:0:8})"
contains "theirs lists the conflict" "$OUT" "both_edit: target ${X:0:8}"
run compile --json
eq "theirs: the resolved text compiles" "$(jv '[m["content"] for m in d["messages"]]')" '["x by feature"]'
run log --json -n 1
eq "theirs: merge commit" "$(jv 'd[0]["commit_hash"]')" "$M"
contains "theirs: reasoning kept" "$(jv 'd[0]["metadata"]')" "strategy theirs"
run fsck
eq "fsck after theirs" "$RC" 0

new_store ours
X=$(c user "x")
"$TRACT" branch feature "$X" >/dev/null
"$TRACT" switch feature >/dev/null
BX=$(c user "x by feature" --edit "$X")
"$TRACT" switch main >/dev/null
AX=$(c user "x by main" --edit "$X")
run merge --strategy ours --json feature
eq "ours json exit" "$RC" 0
eq "ours json committed" "$(jv 'd["committed"]')" "true"
eq "ours json resolution" "$(jv 'd["resolutions"]["'"$X"'"]')" "x by main"
run compile --json
eq "ours: our text compiles" "$(jv '[m["content"] for m in d["messages"]]')" '["x by main"]'

# ---- errors: exit 1, one line, nothing written -----------------------------------------------

new_store errors
A=$(c user "a")
"$TRACT" branch feature "$A" >/dev/null
"$TRACT" switch feature >/dev/null
B=$(c user "b")
"$TRACT" switch main >/dev/null
before=$(state)
run merge ghost
eq "missing branch exit" "$RC" 1
eq "missing branch message" "$ERR" "tract: Branch not found: ghost"
"$TRACT" checkout "$A" >/dev/null
before=$(state)
run merge feature
eq "detached exit" "$RC" 1
eq "detached message" "$ERR" "tract: Cannot merge in detached HEAD state"
eq "detached wrote nothing" "$(state)" "$before"
unborn
run merge feature
eq "unborn exit" "$RC" 1
eq "unborn message" "$ERR" "tract: Cannot merge: no commits on current branch"
run --db "$TMP/missing.db" merge feature
eq "missing store exit" "$RC" 1
[[ ! -e $TMP/missing.db ]] && ok || bad "merge created a missing store"

finish "merge cli"
