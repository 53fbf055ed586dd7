#!/usr/bin/env bash
# test_clone_cli.sh - end-to-end tests of `tract clone SRC_URI DST_URI`: the
# copy compiles, logs and lists like its source, --json counts per table,
# --quiet, --no-verify, exit codes 0/1/2 with one-line errors that leave no
# destination behind, no password in messages, and progress shown on a
# terminal only.
# Usage: test_clone_cli.sh PATH/TO/tract   (TRACT_FIXTURES: fixture directory)
set -euo pipefail

TRACT=${1:?usage: test_clone_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
unset TRACT_DB TRACT_ID NO_COLOR
FIX=${TRACT_FIXTURES:-}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-clone-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# absent DESC PATH: no store file (nor SQLite side file) at PATH.
absent() {
	local f
	for f in "$2" "$2-wal" "$2-shm" "$2-journal"; do
		if [[ -e $f ]]; then
			bad "$1: $f exists"
			return
		fi
	done
	ok
}

# Row counts of every table of a SQLite store, one "table count" per line.
rows() {
	python3 - "$1" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for (t,) in c.execute("select name from sqlite_master where type='table' order by name"):
    print(t, c.execute('select count(*) from "%s"' % t).fetchone()[0])
EOF
}

# same_view DESC A B: both stores list, compile and log every tract alike.
same_view() {
	local desc=$1 a=$2 b=$3 ids id x y
	run --db "$a" tracts --json
	x=$OUT
	run --db "$b" tracts --json
	eq "$desc: tracts --json" "$OUT" "$x"
	ids=$(printf '%s' "$x" | python3 -c 'import json,sys; print("\n".join(t["tract_id"] for t in json.load(sys.stdin) if t["head"]))')
	for id in $ids; do
		run --db "$a" --tract "$id" compile --json
		x=$OUT
		run --db "$b" --tract "$id" compile --json
		y=$OUT
		if [[ $RC -eq 0 && $x == "$y" ]]; then ok; else bad "$desc: $id compiles differently"; fi
		run --db "$a" --tract "$id" log --all --json
		x=$OUT
		run --db "$b" --tract "$id" log --all --json
		y=$OUT
		if [[ $RC -eq 0 && $x == "$y" ]]; then ok; else bad "$desc: $id logs differently"; fi
	done
	run --db "$b" fsck --json
	jtrue "$desc: fsck of the copy" 'd["ok"] is True'
}

# ---- a source store ------------------------------------------------------

expect_ok "clone --help" clone --help
contains "clone --help usage" "$OUT" "usage: tract clone"
contains "clone --help options" "$OUT" "--no-verify"
expect_ok "--help" --help
contains "--help lists clone" "$OUT" "clone"

export TRACT_DB=$TMP/src.db
run init --name "Helpdesk"
A=$OUT
run commit instruction "You answer briefly."
run commit user "Where is my order?"
U=$OUT
run commit assistant "It ships today."
R1=$OUT
run commit assistant "It shipped yesterday." --edit "$R1" -m "fix"
run annotate "$U" pinned --reason "the question"
run --tract "$A" commit user "Thanks" --metadata '{"mood":"ok"}' --config '{"temperature":0.2}'
run init --name "Second"
B=$OUT
run --tract "$B" commit system "second tract"
run --tract "$B" commit user "hello"
run init --name "Empty"
unset TRACT_DB
expect_ok "source built" --db src.db tracts

# ---- a clone, compared ---------------------------------------------------

expect_ok "clone" clone src.db dst.db
contains "clone report" "$OUT" "Cloned src.db into dst.db"
contains "clone report fsck" "$OUT" "fsck: no problems found."
eq "no progress when stderr is not a terminal" "$ERR" ""
same_view "clone" src.db dst.db
eq "row counts" "$(rows dst.db)" "$(rows src.db)"

# The global --db is not used by clone.
expect_ok "clone ignores --db" --db elsewhere.db clone sqlite:src.db sqlite:dst-b.db
absent "--db left alone" elsewhere.db
same_view "clone with sqlite: URIs" src.db dst-b.db

# ---- --json ---------------------------------------------------------------

expect_ok "clone --json" clone --json src.db dst-json.db
eq "clone --json: nothing on stderr" "$ERR" ""
ROWS_DB=$TMP/src.db jtrue "clone --json" \
	'set(d) >= {"source","destination","tracts","tables","metadata_skipped","commits_deferred","fsck"}' \
	'd["source"] == "src.db" and d["destination"] == "dst-json.db"' \
	'd["tracts"] == 2' \
	'list(d["tables"]) == ["blobs","commits","commit_parents","refs","annotations","compressions","compression_sources","compression_results","spawn_pointers","metadata"]' \
	'all(isinstance(v, int) for v in d["tables"].values())' \
	'all(d["tables"][t] == R[t] for t in ("blobs","commits","commit_parents","refs","annotations","compressions","compression_sources","compression_results","spawn_pointers"))' \
	'd["tables"]["metadata"] == R["_trace_meta"] - 1' \
	'd["metadata_skipped"] == 1 and d["commits_deferred"] == 0' \
	'd["fsck"] == {"ok": True, "problems": []}'
same_view "clone --json" src.db dst-json.db

expect_ok "clone --no-verify --json" clone --no-verify --json src.db dst-nv.db
ROWS_DB=$TMP/src.db jtrue "clone --no-verify --json" 'd["fsck"] is None' 'd["tables"]["commits"] == R["commits"] == 7'

expect_ok "clone --quiet" clone --quiet src.db dst-q.db
eq "clone --quiet: no stdout" "$OUT" ""
eq "clone --quiet: no stderr" "$ERR" ""
same_view "clone --quiet" src.db dst-q.db

# ---- usage errors (exit 2) -------------------------------------------------

expect_usage "clone without arguments" clone
expect_usage "clone without DST" clone src.db
expect_usage "clone with three URIs" clone src.db a.db b.db
expect_usage "clone with an unknown option" clone --bogus src.db a.db
expect_usage "clone with an empty URI" clone src.db ""
absent "usage errors create nothing" a.db

# ---- operation errors (exit 1), nothing written ----------------------------

before=$(rows dst.db)
expect_fail "clone into a non-empty store" clone src.db dst.db
contains "non-empty message" "$ERR" "already holds"
eq "non-empty destination unchanged" "$(rows dst.db)" "$before"

expect_fail "clone into itself" clone src.db sqlite:./src.db
contains "same-store message" "$ERR" "same store"

expect_fail "clone of a missing source" clone missing.db new.db
contains "missing-source message" "$ERR" "source store not found"
absent "missing source creates nothing" new.db
absent "missing source stays missing" missing.db

expect_fail "clone to an unknown backend" clone src.db nosuch:x
contains "unknown backend message" "$ERR" "backend plugin 'nosuch' not found"

expect_fail "clone into a directory that does not exist" clone src.db "$TMP/no/such/dir.db"

# A password in a URI never shows: whether the postgres plugin is missing
# or the server at 127.0.0.1:1 refuses the connection.
expect_fail "clone to an unreachable server" clone src.db "postgresql://alice:s3cr3tpw@127.0.0.1:1/tract"
lacks "no password in the message" "$ERR" "s3cr3tpw"
expect_fail "clone from an unreachable server" clone "postgresql://alice:s3cr3tpw@127.0.0.1:1/tract" new.db
lacks "no password in the message" "$ERR" "s3cr3tpw"
absent "unreachable source creates nothing" new.db

# A source with a commit whose blob is gone: the copy fails midway and no
# destination is left behind.
cp src.db broken.db
python3 - "$TMP/broken.db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("delete from blobs where content_hash = (select content_hash from commits order by created_at desc limit 1)")
c.commit()
EOF
expect_fail "clone of a source missing a blob" clone broken.db out.db
contains "missing-blob message" "$ERR" "is missing from the source store"
absent "failed clone leaves no destination" out.db
expect_fail "clone --json of a source missing a blob" clone --json broken.db out.db
eq "failed clone --json prints nothing" "$OUT" ""
absent "failed clone --json leaves no destination" out.db

# A source whose commit hash does not recompute: fsck refuses the copy,
# lists the problem, and --no-verify copies it as it is.
cp src.db badhash.db
python3 - "$TMP/badhash.db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = c.execute("update commits set content_type = 'reasoning' where content_type = 'instruction'").rowcount
assert n == 1, n
c.commit()
EOF
# the findings are listed on stdout, as fsck lists them
run clone badhash.db out.db
eq "clone of a corrupt source exits 1" "$RC" 1
[[ $ERR == "tract: "* && $ERR != *$'\n'* ]] && ok || bad "corrupt source: stderr is not one 'tract: ' line: [$ERR]"
contains "fsck failure message" "$ERR" "fails fsck with 1 error"
contains "fsck problem listed" "$OUT" "commit hash mismatch"
absent "corrupt source leaves no destination" out.db
expect_ok "clone --no-verify of a corrupt source" clone --no-verify badhash.db out.db
contains "--no-verify report" "$OUT" "fsck: not run"
run --db out.db fsck
eq "the unverified copy fails fsck" "$RC" "1"

# ---- progress on a terminal -------------------------------------------------

if script -qec true /dev/null >/dev/null 2>&1; then
	script -qec "'$TRACT' clone src.db tty.db" /dev/null >"$TMP/tty.out" 2>&1 || true
	TTY=$(cat "$TMP/tty.out")
	contains "progress on a terminal" "$TTY" "clone: blobs"
	contains "progress redraws its line" "$TTY" $'\r\e[Kclone: '
	contains "report after the progress" "$TTY" "Cloned src.db into tty.db"
	same_view "clone on a terminal" src.db tty.db
	script -qec "'$TRACT' clone --quiet src.db tty-q.db" /dev/null >"$TMP/tty.out" 2>&1 || true
	TTY=$(cat "$TMP/tty.out")
	lacks "--quiet: no progress on a terminal" "$TTY" "clone: "
	if [[ -e tty-q.db ]]; then ok; else bad "--quiet on a terminal: no copy"; fi
else
	# script(1) is in bsdutils, an essential Debian package.
	bad "script(1) unavailable: terminal progress not checked"
fi

# ---- the reference's fixtures ------------------------------------------------

# In the repository (tests/fixtures/py-tract); missing ones fail the test.
if [[ -z $FIX || ! -d $FIX ]]; then
	bad "fixture directory '${FIX}' missing: TRACT_FIXTURES must name tests/fixtures/py-tract"
else
	for name in v1_basic v2_basic v3_basic v4_basic; do
		if [[ ! -f $FIX/$name.db ]]; then
			bad "fixture $FIX/$name.db missing"
			continue
		fi
		cp "$FIX/$name.db" "$name.db"
		expect_ok "clone $name" clone --json "$name.db" "$name-copy.db"
		ROWS_DB=$TMP/$name.db jtrue "clone $name --json" \
			'd["tables"]["commits"] == R["commits"] and d["tables"]["blobs"] == R["blobs"]' \
			'd["fsck"]["ok"] is True'
		same_view "clone $name" "$name.db" "$name-copy.db"
	done
fi

finish "clone-cli"
