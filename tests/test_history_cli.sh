#!/usr/bin/env bash
# test_history_cli.sh - end-to-end tests of the navigation commands (CLI.md):
# reset, checkout, switch, branch and tag; their output, --json shapes, exit
# codes, one-line errors that write nothing, and the fixture files' branches.
# Usage: test_history_cli.sh PATH/TO/tract   (TRACT_FIXTURES: fixture directory)
set -euo pipefail

TRACT=${1:?usage: test_history_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
FIX=${TRACT_FIXTURES:-}
unset TRACT_DB TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-history-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

if ! python3 -c 'import sqlite3' 2>/dev/null; then
	echo "test_history_cli: python3 with sqlite3 (the store dumps) not found" >&2
	exit 1
fi

# ---- helpers -------------------------------------------------------------

# Every row of the refs table and the row count of every table: "nothing written".
cat >"$TMP/dump.py" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for (t,) in c.execute("select name from sqlite_master where type='table' order by name"):
    print(t, c.execute('select count(*) from "%s"' % t).fetchone()[0])
for r in c.execute("select * from refs order by tract_id, ref_name"):
    print(r)
EOF
# The refs of a fixture's expected.json: "tract_id branch tip" lines.
cat >"$TMP/branches.py" <<'EOF'
import json, sys
for t in json.load(open(sys.argv[1]))["tracts"]:
    for b, tip in sorted(t["branches"].items()):
        print(t["tract_id"], b, tip)
EOF
# Compare a compile --json (stdin) with a fixture's branch result.
cat >"$TMP/cmp.py" <<'EOF'
import json, sys
exp_all = json.load(open(sys.argv[1]))
tid, branch = sys.argv[2], sys.argv[3]
got = json.load(sys.stdin)
tr = [t for t in exp_all["tracts"] if t["tract_id"] == tid][0]
exp = tr["branch_results"][branch]["compile_decided"]
def norm(ms):
    return [{k: m[k] for k in ("role", "content", "name") if k in m} for m in ms]
if norm(got["messages"]) != norm(exp["messages"]) or got["commit_hashes"] != exp["commit_hashes"]:
    print("branch %s of %s: compile differs" % (branch, tid), file=sys.stderr)
    sys.exit(1)
EOF

snapshot() { python3 "$TMP/dump.py" "$TRACT_DB"; }

# expect_usage DESC ARGS...: exit 2, three stderr lines, nothing written.
expect_usage() {
	local desc=$1 before after
	shift
	before=$(snapshot)
	run "$@"
	after=$(snapshot)
	if [[ $RC -ne 2 || $(printf '%s\n' "$ERR" | wc -l) -ne 3 ]]; then
		bad "$desc: exit $RC (want 2), stderr: $ERR"
	elif [[ $before != "$after" ]]; then
		bad "$desc: the store changed"
	else
		ok
	fi
}

commit() { # VAR ARGS...
	local var=$1
	shift
	run commit "$@"
	[[ $RC -eq 0 && $OUT =~ ^[0-9a-f]{64}$ ]] || bad "commit $*: exit $RC, $ERR"
	printf -v "$var" '%s' "$OUT"
	export "${var?}"
}

# ---- help ------------------------------------------------------------------

for c in reset checkout switch branch tag; do
	expect_ok "$c --help" "$c" --help
	contains "$c --help usage" "$OUT" "usage: tract $c"
done
expect_ok "tract --help lists them" --help
for c in reset checkout switch branch tag; do contains "--help: $c" "$OUT" "  $c "; done

# ---- an empty tract ----------------------------------------------------------

export TRACT_DB=$TMP/empty.db
expect_ok "init (empty)" init
expect_ok "branch on an empty tract" branch
eq "no branches" "$OUT" "No branches."
expect_ok "branch --json (empty)" branch --json
jtrue "empty branch list" 'd == []'
expect_ok "tag --json (empty)" tag --json
jtrue "empty tag list" 'd == []'
expect_fail "reset with no commit" reset HEAD
eq "reset with no commit message" "$ERR" "tract: HEAD has no commit yet"
expect_fail "checkout - with no previous position" checkout -
eq "checkout - message" "$ERR" "tract: No previous position to return to (PREV_HEAD not set)"
expect_fail "switch -c with no commit" switch -c first
eq "switch -c with no commit message" "$ERR" "tract: Cannot create branch: no commits exist"
expect_fail "branch with no commit" branch first
expect_fail "tag with no commit" tag first
eq "tag with no commit message" "$ERR" "tract: Cannot create tag: no commits exist"

# ---- a history: main c0..c3 ----------------------------------------------

export TRACT_DB=$TMP/h.db
expect_ok "init" init
commit C0 instruction "Be brief."
commit C1 user "one"
commit C2 assistant "two"
commit C3 user "three"

expect_ok "branch (list)" branch
eq "branch list" "$OUT" "* main  ${C3:0:8}"
expect_ok "branch --json" branch --json
jtrue "branch json" 'd == [{"name": "main", "commit_hash": E["C3"], "current": True, "ahead": 0, "behind": 0}]'

# revisions everywhere
expect_ok "show HEAD~2" show --json 'HEAD~2'
jtrue "HEAD~2" 'd["commit_hash"] == E["C1"]'
expect_ok "show main^^^" show --json 'main^^^'
jtrue "main^^^" 'd["commit_hash"] == E["C0"]'
expect_ok "log from a revision" log --json 'HEAD~1'
jtrue "log HEAD~1" '[c["commit_hash"] for c in d] == [E["C2"], E["C1"], E["C0"]]'
expect_ok "compile --at HEAD^" compile --json --at 'HEAD^'
jtrue "compile --at HEAD^" 'd["commit_hashes"] == [E["C0"], E["C1"], E["C2"]]'
expect_fail "HEAD~4 is past the root" show 'HEAD~4'
contains "HEAD~4 message" "$ERR" "Commit not found: HEAD~4"
expect_fail "3 hex digits" show "${C1:0:3}"
eq "3 hex digits message" "$ERR" "tract: revision '${C1:0:3}' not found (a prefix needs at least 4 hex digits)"

# ---- branch create / switch ------------------------------------------------

expect_ok "branch feature HEAD~2" branch feature 'HEAD~2'
eq "branch create output" "$OUT" "Created branch feature at ${C1:0:8}"
expect_ok "branch still on main" status --json
jtrue "branch does not switch" 'd["branch"] == "main" and d["head"] == E["C3"]'
expect_ok "branch from a prefix" branch from-prefix "${C2:0:10}"
expect_ok "switch feature" switch feature
eq "switch output" "$OUT" "Switched to branch feature at ${C1:0:8}"
commit F1 user "on feature"
expect_ok "branch list (two)" branch
eq "branch list ahead/behind" "$OUT" "* feature      ${F1:0:8}  [ahead 1, behind 2]
  from-prefix  ${C2:0:8}  [behind 1]
  main         ${C3:0:8}"
expect_ok "branch --json (ahead/behind)" branch --json
jtrue "json ahead/behind" '[(b["name"], b["current"], b["ahead"], b["behind"]) for b in d] == [("feature", True, 1, 2), ("from-prefix", False, 0, 1), ("main", False, 0, 0)]'
expect_ok "switch -" switch -
eq "switch - output" "$OUT" "Switched to branch main at ${C3:0:8}"
expect_ok "switch -c" switch -c topic 'feature~1'
eq "switch -c output" "$OUT" "Switched to a new branch topic at ${C1:0:8}"
expect_ok "status after switch -c" status --json
jtrue "on topic" 'd["branch"] == "topic" and d["head"] == E["C1"]'
expect_fail "switch to a commit" switch "$C2"
expect_fail "switch unknown" switch ghost
eq "switch unknown message" "$ERR" "tract: Branch not found: ghost. Available branches: feature, from-prefix, main, topic"
expect_fail "switch -c existing" switch -c feature
eq "switch -c existing message" "$ERR" "tract: Branch already exists: feature"
expect_fail "switch -c bad start" switch -c newer nosuch
expect_usage "switch START without -c" switch main HEAD
expect_usage "switch without BRANCH" switch
expect_usage "switch -c -" switch -c -

# ---- checkout: attach, detach, read-only, - ------------------------------------

expect_ok "checkout main" checkout main
eq "checkout branch output" "$OUT" "Switched to branch main (${C3:0:8})"
expect_ok "checkout a revision" checkout 'HEAD~1'
eq "checkout detached output" "$OUT" "HEAD detached at ${C2:0:8}"
expect_ok "status detached" status --json
jtrue "detached status" 'd["detached"] is True and d["branch"] is None and d["head"] == E["C2"]'
expect_fail "commit while detached" commit user "refused"
eq "detached commit message" "$ERR" "tract: Cannot commit in detached HEAD state. Use 'tract checkout main' to return to your branch."
expect_ok "log while detached" log --json
jtrue "log at the detached HEAD" 'd[0]["commit_hash"] == E["C2"]'
expect_ok "checkout -" checkout -
eq "checkout - output" "$OUT" "Switched to branch main (${C3:0:8})"
expect_ok "checkout - again" checkout -
eq "checkout - again output" "$OUT" "HEAD detached at ${C2:0:8}"
expect_ok "back to main" checkout main
# a failed checkout writes nothing (PREV_HEAD included: expect_fail compares the refs)
expect_fail "checkout unknown" checkout nosuch
eq "checkout unknown message" "$ERR" "tract: Commit not found: nosuch"
expect_usage "checkout without REF" checkout
expect_usage "checkout two" checkout a b

# checkout - to a deleted branch: detached at PREV_HEAD
expect_ok "switch topic" switch topic
commit T1 user "topic work"
expect_ok "switch main" switch main
expect_ok "delete topic" branch -D topic
eq "delete output" "$OUT" "Deleted branch topic (was ${T1:0:8})"
expect_ok "checkout - (deleted branch)" checkout -
eq "checkout - to deleted branch" "$OUT" "HEAD detached at ${T1:0:8}"
expect_ok "status" status --json
jtrue "detached at PREV_HEAD" 'd["detached"] is True and d["head"] == E["T1"]'
expect_ok "switch - back" switch -
eq "switch - back output" "$OUT" "Switched to branch main at ${C3:0:8}"

# ---- reset ------------------------------------------------------------------

expect_ok "reset HEAD~2" reset 'HEAD~2'
eq "reset output" "$OUT" "HEAD is now at ${C1:0:8} (soft reset)"
expect_ok "status after reset" status --json
jtrue "branch moved" 'd["branch"] == "main" and d["head"] == E["C1"]'
expect_ok "show ORIG_HEAD" show --json ORIG_HEAD
jtrue "ORIG_HEAD" 'd["commit_hash"] == E["C3"]'
expect_ok "reset --hard ORIG_HEAD" reset --hard ORIG_HEAD
eq "reset --hard output" "$OUT" "HEAD is now at ${C3:0:8} (hard reset)"
expect_ok "reset --soft --hard: the last wins" reset --soft --hard HEAD
contains "last mode wins" "$OUT" "(hard reset)"
expect_fail "reset unknown" reset nosuch
expect_fail "reset past the root" reset 'HEAD~9'
expect_usage "reset without REF" reset
expect_usage "reset two" reset a b
expect_usage "reset --bogus" reset --bogus HEAD

# ---- branch delete / rename --------------------------------------------------

expect_fail "delete the current branch" branch -d main
eq "delete current message" "$ERR" "tract: Cannot delete the current branch 'main'"
expect_fail "delete unmerged" branch -d feature
eq "unmerged message" "$ERR" "tract: Branch 'feature' has unmerged commits (its tip ${F1:0:8} is not in HEAD's history); 'tract branch -d --force feature' deletes it anyway"
expect_fail "delete unknown" branch -d ghost
eq "delete unknown message" "$ERR" "tract: Branch not found: ghost"
expect_ok "delete merged" branch -d from-prefix
expect_ok "delete --force" branch -d --force feature
eq "delete --force output" "$OUT" "Deleted branch feature (was ${F1:0:8})"
expect_ok "branch f2" branch f2 HEAD~1
expect_ok "rename the current branch" branch -m main trunk
eq "rename output" "$OUT" "Renamed branch main to trunk"
expect_ok "status after rename" status --json
jtrue "HEAD follows the rename" 'd["branch"] == "trunk"'
expect_ok "branch list after rename" branch --json
jtrue "no default branch: ahead/behind null" 'all(b["ahead"] is None and b["behind"] is None for b in d)'
expect_ok "rename back" branch -m trunk main
expect_fail "rename onto an existing branch" branch -m main f2
expect_fail "rename unknown" branch -m ghost g2
expect_fail "rename to a bad name" branch -m f2 'a..b'
expect_usage "-m with one name" branch -m f2
expect_usage "-d and -m" branch -d -m a b
expect_usage "--force without -d" branch --force x
expect_usage "--json with a name" branch --json x
expect_usage "three operands" branch a b c
for name in '' 'a b' 'a..b' '-x' '@' 'HEAD' 'x.lock' 'a/.b' 'x@{1}' $'a\x01b' '/a' 'a//b' 'a~1' 'a^' 'a:b'; do
	run branch -- "$name"
	if [[ $RC -eq 1 && $ERR == "tract: Invalid branch name "* && $ERR != *$'\n'* ]]; then ok; else
		bad "branch name [$name]: exit $RC, [$ERR]"; fi
done
expect_fail "branch at an unknown start" branch newer nosuch
expect_fail "branch that exists" branch f2

# ---- tags --------------------------------------------------------------------

expect_ok "tag (empty list)" tag
eq "no tags" "$OUT" "No tags."
expect_ok "tag v1" tag v1
eq "tag output" "$OUT" "Created tag v1 at ${C3:0:8}"
expect_ok "tag v0 at a revision" tag v0.9 'HEAD~3'
expect_ok "tag list" tag
eq "tag list output" "$OUT" "v0.9  ${C0:0:8}
v1    ${C3:0:8}"
expect_ok "tag --json" tag --json
jtrue "tag json" 'd == [{"name": "v0.9", "commit_hash": E["C0"]}, {"name": "v1", "commit_hash": E["C3"]}]'
expect_ok "a tag is a revision" show --json 'v1~1'
jtrue "v1~1" 'd["commit_hash"] == E["C2"]'
expect_ok "checkout a tag detaches" checkout v0.9
eq "checkout tag output" "$OUT" "HEAD detached at ${C0:0:8}"
expect_ok "back" checkout -
expect_fail "tag that exists" tag v1
eq "tag exists message" "$ERR" "tract: Tag already exists: v1"
expect_fail "tag bad name" tag 'v 1'
expect_fail "tag unknown rev" tag v2 nosuch
expect_fail "tag -d unknown" tag -d v9
expect_ok "tag -d" tag -d v1
eq "tag -d output" "$OUT" "Deleted tag v1 (was ${C3:0:8})"
expect_fail "deleted tag is gone" show v1
expect_usage "tag -d without NAME" tag -d
expect_usage "tag three" tag a b c
expect_usage "tag --json NAME" tag --json a

# clone copies tags
expect_ok "clone" clone "$TRACT_DB" "$TMP/clone.db"
expect_ok "tag list of the clone" --db "$TMP/clone.db" tag --json
jtrue "clone has the tag" 'd == [{"name": "v0.9", "commit_hash": E["C0"]}]'

# ---- the fixture files: every branch reachable, its recorded compile ---------

if [[ -z $FIX || ! -d $FIX ]]; then
	bad "fixture directory '${FIX}' missing: TRACT_FIXTURES must name tests/fixtures/py-tract"
else
	mkdir -p "$TMP/fx"
	for name in v1_basic v2_basic v3_basic v4_basic; do
		cp "$FIX/$name.db" "$TMP/fx/$name.db"
		while read -r id branch tip; do
			run --db "$TMP/fx/$name.db" --tract "$id" switch "$branch"
			eq "$name $id switch $branch" "$OUT" "Switched to branch $branch at ${tip:0:8}"
			run --db "$TMP/fx/$name.db" --tract "$id" compile --json
			if [[ $RC -eq 0 ]] &&
				printf '%s' "$OUT" | python3 "$TMP/cmp.py" "$FIX/$name.expected.json" "$id" "$branch"; then
				ok
			else
				bad "$name $id: compile after switch $branch ($ERR)"
			fi
		done < <(python3 "$TMP/branches.py" "$FIX/$name.expected.json")
		run --db "$TMP/fx/$name.db" fsck
		if [[ $RC -eq 0 ]]; then ok; else bad "$name fsck after the switches: $OUT $ERR"; fi
	done
fi

finish "history-cli"
