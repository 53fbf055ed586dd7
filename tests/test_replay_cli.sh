#!/usr/bin/env bash
# test_replay_cli.sh - end-to-end tests of `tract cherry-pick REF` and
# `tract rebase ONTO`: human and --json output, the compiled context after
# each (edits retargeted, skips kept), fast-forward and up-to-date rebases,
# issues listed with exit 1 and nothing written, detached HEAD refused,
# usage errors exit 2, fsck clean at the end. The stores are made with the
# CLI (commit, annotate, branch, switch -c, checkout).
# Usage: test_replay_cli.sh PATH/TO/tract
set -euo pipefail

TRACT=${1:?usage: test_replay_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
cli_exec() { "$TRACT" --db "$DB" "$@"; }
unset TRACT_DB TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-replay-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# t ARGS: the command on the current store (stdin closed).
t() { "$TRACT" --db "$DB" "$@" </dev/null; }

# A fresh store, tract "t", made with the CLI (its hashes become variables):
# main R "root", M1 "main one", M2 "main two"; feature (from R): F1
# "feature one", E (edit of F1) "feature one, edited", F2 "feature two"
# (annotated skip); other (from R): X "elsewhere"; stray (from R): EX
# (edit of X); side (from M2): S "side turn", SE (edit of X); behind at
# M1; strays (from R): 20 edits of X (more warnings than an error message
# holds). HEAD on feature.
fresh() {
	DB=$TMP/$1.db
	t init --id t >/dev/null
	R=$(t commit user "root")
	M1=$(t commit assistant "main one")
	M2=$(t commit user "main two")
	t switch -c feature "$R" >/dev/null
	F1=$(t commit assistant "feature one")
	E=$(t commit assistant "feature one, edited" --edit "$F1")
	F2=$(t commit user "feature two")
	t annotate "$F2" skip --reason noise >/dev/null
	t switch -c other "$R" >/dev/null
	X=$(t commit user "elsewhere")
	t switch -c stray "$R" >/dev/null
	EX=$(t commit user "edit of elsewhere" --edit "$X")
	t switch -c side "$M2" >/dev/null
	S=$(t commit assistant "side turn")
	SE=$(t commit user "side edit of elsewhere" --edit "$X")
	t branch behind "$M1" >/dev/null
	t switch -c strays "$R" >/dev/null
	for i in $(seq 0 19); do
		t commit user "stray edit $i" --edit "$X" >/dev/null
	done
	t switch feature >/dev/null
	[[ -n $R && -n $E && -n $EX && -n $SE ]] || { echo "fresh: the CLI failed" >&2; exit 1; }
}

# What a failed command must leave alone: every commit, ref and the context.
state() {
	"$TRACT" --db "$DB" log --all --json </dev/null
	"$TRACT" --db "$DB" status --json </dev/null
	"$TRACT" --db "$DB" compile --format text </dev/null
	python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for q in ("SELECT ref_name, commit_hash, symbolic_target FROM refs ORDER BY 1",
          "SELECT count(*) FROM commits", "SELECT count(*) FROM blobs",
          "SELECT count(*) FROM annotations"):
    print(db.execute(q).fetchall())' "$DB"
}

compiled() {
	"$TRACT" --db "$DB" compile --json </dev/null |
		python3 -c 'import json,sys; print("|".join(m["content"] for m in json.load(sys.stdin)["messages"]))'
}

jget() {
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# ---- help and usage -------------------------------------------------------------
fresh usage
expect_ok "rebase --help" rebase --help
contains "rebase help" "$OUT" "usage: tract rebase [--json] [--llm [--provider P] [--model M]] ONTO"
expect_ok "cherry-pick --help" cherry-pick --help
contains "cherry-pick help" "$OUT" "usage: tract cherry-pick [--json] [--llm [--provider P] [--model M]] REF"
expect_ok "tract --help lists them" --help
contains "help lists cherry-pick" "$OUT" "cherry-pick"
contains "help lists rebase" "$OUT" "rebase"
expect_usage "rebase without ONTO" rebase
contains "missing ONTO" "$ERR" "missing ONTO"
expect_usage "rebase two operands" rebase main other
expect_usage "rebase unknown option" rebase --bogus main
expect_usage "rebase empty ONTO" rebase ""
expect_usage "cherry-pick without REF" cherry-pick
contains "missing REF" "$ERR" "missing REF"
expect_usage "cherry-pick two operands" cherry-pick a b
expect_usage "cherry-pick --onto" cherry-pick --onto x y

# ---- rebase ------------------------------------------------------------------------
fresh rebase
before=$(state)
expect_fail "rebase onto a missing branch" rebase nope
eq "branch not found" "$ERR" "tract: Branch not found: nope"
expect_fail "rebase onto a revision past the root" rebase "main~9"
contains "revision past the root: the revision's error" "$ERR" "tract: Commit not found: main~9 (the history ends at "
eq "nothing written (missing branch)" "$(state)" "$before"

expect_ok "rebase feature onto main" rebase main
contains "rebase says so" "$OUT" "Successfully rebased feature onto main ("
contains "rebase counts" "$OUT" "3 commits replayed"
contains "rebase lists the copies" "$OUT" "${F1:0:8} -> "
# the edit follows its copy, the skipped turn stays skipped
eq "compiled after rebase" "$(compiled)" "root|main one|main two|feature one, edited"
run status --json
eq "still on feature" "$(jget 'd["branch"]' <<<"$OUT")" "feature"
eq "not detached" "$(jget 'd["detached"]' <<<"$OUT")" "False"
run log --json -n 4
eq "parent of the first copy is main's tip" "$(jget 'd[2]["parent_hash"]' <<<"$OUT")" "$M2"
eq "the edit targets the copy" "$(jget 'd[1]["response_to"]' <<<"$OUT")" "$(jget 'd[2]["commit_hash"]' <<<"$OUT")"

expect_ok "rebase again: up to date" rebase main
eq "up to date" "$OUT" "Current branch feature is up to date with main."
expect_ok "rebase --json up to date" rebase --json main
eq "json outcome up_to_date" "$(jget 'd["outcome"]' <<<"$OUT")" "up_to_date"

# strictly behind: fast-forward
t switch behind >/dev/null
expect_ok "rebase --json behind onto main" rebase --json main
eq "json outcome fast_forward" "$(jget 'd["outcome"]' <<<"$OUT")" "fast_forward"
eq "json new_head is main's tip" "$(jget 'd["new_head"]' <<<"$OUT")" "$M2"
eq "json nothing replayed" "$(jget 'len(d["replayed_commits"])' <<<"$OUT")" "0"
run status --json
eq "behind moved to main" "$(jget 'd["head"]' <<<"$OUT")" "$M2"

# rebase --json with copies
fresh rebase_json
expect_ok "rebase --json" rebase --json main
eq "json outcome replayed" "$(jget 'd["outcome"]' <<<"$OUT")" "replayed"
eq "json onto" "$(jget 'd["onto"]' <<<"$OUT")" "$M2"
eq "json originals" "$(jget '",".join(c["commit_hash"] for c in d["original_commits"])' <<<"$OUT")" "$F1,$E,$F2"
eq "json copies" "$(jget 'len(d["replayed_commits"])' <<<"$OUT")" "3"
eq "json new_head" "$(jget 'd["new_head"] == d["replayed_commits"][-1]["commit_hash"]' <<<"$OUT")" "True"
eq "json warnings" "$(jget 'd["warnings"]' <<<"$OUT")" "[]"

# a warning: exit 1, listed, nothing written
t switch stray >/dev/null
before=$(state)
run rebase main
eq "warning exit 1" "$RC" "1"
eq "warning stdout empty" "$OUT" ""
eq "warning lines" "$ERR" "tract: Rebase has 1 semantic safety warning(s):
  - EDIT commit targets ${X:0:12}... which does not exist on target branch 'main'"
eq "nothing written (warning)" "$(state)" "$before"
run rebase --json main
eq "warning exit 1 with --json" "$RC" "1"
eq "warning --json stdout empty" "$OUT" ""

# more warnings than an error message holds: every one is listed
t switch strays >/dev/null
before=$(state)
run rebase main
eq "20 warnings exit 1" "$RC" "1"
eq "20 warnings: the head" "$(head -n 1 <<<"$ERR")" "tract: Rebase has 20 semantic safety warning(s):"
eq "20 warnings: one line each" "$(grep -c "^  - EDIT commit targets ${X:0:12}... which does not exist on target branch 'main'$" <<<"$ERR")" "20"
eq "nothing written (20 warnings)" "$(state)" "$before"

# detached and empty
t checkout "$F1" >/dev/null
before=$(state)
expect_fail "rebase detached" rebase main
eq "rebase detached message" "$ERR" "tract: Cannot rebase in detached HEAD state"
eq "nothing written (detached)" "$(state)" "$before"
# a second tract of the store, with no commit yet
t init --id empty >/dev/null
expect_fail "rebase without commits" --tract empty rebase main
eq "rebase empty message" "$ERR" "tract: Cannot rebase: no commits on current branch"

# ---- cherry-pick -------------------------------------------------------------------
fresh pick
t switch main >/dev/null
expect_ok "cherry-pick S" cherry-pick "$S"
contains "pick line" "$OUT" "[main "
contains "pick names the original" "$OUT" "] cherry-picked ${S:0:8}: side turn"
eq "compiled after pick" "$(compiled)" "root|main one|main two|side turn"
expect_ok "cherry-pick by branch name (side's tip)" cherry-pick --json other
eq "pick --json original" "$(jget 'd["original_commit"]["commit_hash"]' <<<"$OUT")" "$X"
eq "pick --json issues" "$(jget 'd["issues"]' <<<"$OUT")" "[]"
eq "pick --json new_head" "$(jget 'd["new_head"] == d["new_commit"]["commit_hash"]' <<<"$OUT")" "True"
eq "pick --json same content" "$(jget 'd["new_commit"]["content_hash"] == d["original_commit"]["content_hash"]' <<<"$OUT")" "True"
# a copy of X is not X: SE's target is still missing on main
run cherry-pick "${SE:0:10}"
eq "edit of an original whose copy is there" "$RC" "1"
contains "edit of an original: the issue" "$ERR" "EDIT commit targets ${X:0:12}..."
eq "compiled unchanged" "$(compiled)" "root|main one|main two|side turn|elsewhere"

fresh pick_issue
t switch main >/dev/null
before=$(state)
run cherry-pick "$SE"
eq "issue exit 1" "$RC" "1"
eq "issue lines" "$ERR" "tract: Cherry-pick has 1 issue(s):
  - EDIT commit targets ${X:0:12}... which does not exist on the current branch"
eq "nothing written (issue)" "$(state)" "$before"
expect_fail "cherry-pick unknown" cherry-pick nope
eq "pick not found" "$ERR" "tract: Commit not found: nope"
expect_fail "cherry-pick short prefix" cherry-pick abc
eq "pick short prefix" "$ERR" "tract: revision 'abc' not found (a prefix needs at least 4 hex digits)"
t checkout "main^0" >/dev/null # detached at main's tip
before=$(state)
expect_fail "cherry-pick detached" cherry-pick "$S"
contains "pick detached message" "$ERR" "tract: Cannot cherry-pick in detached HEAD state"
eq "nothing written (detached pick)" "$(state)" "$before"

# ---- the stores are sound -------------------------------------------------------------
for db in rebase rebase_json pick pick_issue; do
	DB=$TMP/$db.db
	expect_ok "fsck $db" fsck
done

finish "replay cli"
