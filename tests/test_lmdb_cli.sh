#!/usr/bin/env bash
# test_lmdb_cli.sh - the `tract` command on an LMDB store ("lmdb:DIR"):
# init, commits, an edit, log, show by prefix, annotate, compile, status,
# tracts, fsck, plugins, TRACT_DB, URI options, and one-line errors that
# create nothing (a missing store, bad options, a file that is no store).
# Usage: test_lmdb_cli.sh PATH/TO/tract
set -euo pipefail

TRACT=${1:?usage: test_lmdb_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
unset TRACT_DB TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-lmdb-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# check DESC COMMAND...: the command succeeds.
check() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>"$TMP/err"; then ok; else bad "$desc: $(cat "$TMP/err")"; fi
}
# contains DESC NEEDLE HAYSTACK
contains() {
	case $3 in *"$2"*) ok ;; *) bad "$1: '$2' not in: $3" ;; esac
}
# fails DESC NEEDLE COMMAND...: exit status 1 and one stderr line holding NEEDLE.
fails() {
	local desc=$1 needle=$2 rc=0
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	if [ "$rc" != 1 ]; then
		bad "$desc: exit status $rc, expected 1"
	elif [ "$(wc -l <"$TMP/err")" != 1 ]; then
		bad "$desc: stderr is not one line: $(cat "$TMP/err")"
	else
		contains "$desc" "$needle" "$(cat "$TMP/err")"
	fi
}

DB="lmdb:$TMP/store"
t() { "$TRACT" --db "$DB" "$@"; }

# ---- a session ----------------------------------------------------------------

id=$(t init --help >/dev/null && t init)
[ ${#id} -ge 8 ] && ok || bad "init printed '$id'"
[ -f "$TMP/store/data.mdb" ] && ok || bad "init made no LMDB environment"
check "instruction" t commit instruction "Answer in one line."
q=$(t commit user "What is LMDB?")
a=$(t commit assistant "A memory-mapped key-value store.")
[ ${#a} = 64 ] && ok || bad "commit printed '$a'"
e=$(t commit assistant "An embedded B+tree key-value store." --edit "${a:0:10}")
[ ${#e} = 64 ] && ok || bad "edit printed '$e'"

log=$(t log)
contains "log lists the edit" "${e:0:8}" "$log"
contains "log lists the question" "${q:0:8}" "$log"
[ "$(t log --oneline | wc -l)" = 4 ] && ok || bad "log --oneline: $(t log --oneline)"
contains "show by prefix" "What is LMDB?" "$(t show "${q:0:8}")"

out=$(t compile)
contains "compile: instruction" "Answer in one line." "$out"
contains "compile: the edit replaced the answer" "embedded B+tree" "$out"
case $out in *"memory-mapped"*) bad "compile kept the edited text" ;; *) ok ;; esac

check "annotate skip" t annotate "${q:0:8}" skip --reason "noise"
case $(t compile) in *"What is LMDB?"*) bad "a skipped commit was compiled" ;; *) ok ;; esac
contains "compile --json" '"role"' "$(t compile --json)"
contains "status" "$id" "$(t status)"
contains "tracts" "$id" "$(t tracts)"
contains "fsck" "No problems found" "$(t fsck)"
contains "plugins lists lmdb" "lmdb" "$("$TRACT" plugins)"

# TRACT_DB and URI options reach the same store.
check "TRACT_DB" env TRACT_DB="$DB?sync=0" "$TRACT" commit user "fast, unsynced"
check "sync=data" "$TRACT" --db "$DB?sync=data&map_size=1M" commit user "synced data"
[ "$(t log --oneline | wc -l)" = 6 ] && ok || bad "log after option commits: $(t log --oneline)"
contains "fsck after option commits" "No problems found" "$(t fsck)"

# Several tracts in one store.
id2=$(t init)
check "second tract" "$TRACT" --db "$DB" --tract "$id2" commit user "other tract"
[ "$(t tracts | grep -c -e "$id" -e "$id2")" = 2 ] && ok || bad "tracts: $(t tracts)"

# ---- errors: one line, exit 1, nothing created ---------------------------------

fails "missing store" "not found" "$TRACT" --db "lmdb:$TMP/missing" log
[ ! -e "$TMP/missing" ] && ok || bad "reading a missing store created it"
fails "bad sync" "option sync" "$TRACT" --db "lmdb:$TMP/new?sync=2" init
fails "bad map_size" "option map_size" "$TRACT" --db "lmdb:$TMP/new?map_size=1" init
fails "unknown option" "unknown option 'x'" "$TRACT" --db "lmdb:$TMP/new?x=1" init
[ ! -e "$TMP/new" ] && ok || bad "a bad option created the store"
: >"$TMP/plain"
fails "a file" "not a directory" "$TRACT" --db "lmdb:$TMP/plain" init

# ---- a damaged store: one-line errors, exit 1, nothing written ----------------

# LMDB maps data.mdb: reading a page past the end of a cut file was SIGBUS.
# A copy cut to the two meta pages, a quarter, a half, nine tenths: every
# command refuses it, fsck included, and the file is left as it was.
size=$(stat -c %s "$TMP/store/data.mdb")
for cut in 8192 $((size / 4)) $((size / 2)) $((size / 10 * 9)); do
	rm -rf "$TMP/cut"
	cp -r "$TMP/store" "$TMP/cut"
	truncate -s "$cut" "$TMP/cut/data.mdb"
	cp "$TMP/cut/data.mdb" "$TMP/cut.before"
	for cmd in log compile fsck "commit user lost"; do
		# shellcheck disable=SC2086 # the command's words
		fails "cut to $cut: $cmd" "data.mdb is truncated" "$TRACT" --db "lmdb:$TMP/cut" $cmd
	done
	cmp -s "$TMP/cut/data.mdb" "$TMP/cut.before" && ok || bad "cut to $cut: data.mdb was written"
done

# Records with corrupt bytes (each commit's tract id length made huge):
# reads and a commit on top of them are refused, nothing is written.
if command -v python3 >/dev/null; then
	rm -rf "$TMP/bad"
	cp -r "$TMP/store" "$TMP/bad"
	python3 - "$TMP/bad/data.mdb" "$id" "$id2" <<'PY'
import struct, sys
path = sys.argv[1]
d = bytearray(open(path, 'rb').read())
for tid in sys.argv[2:]:
    pat = struct.pack('<I', len(tid)) + tid.encode()
    i = d.find(pat)
    while i >= 0:
        d[i:i + 4] = struct.pack('<I', 0x7ffffff0)
        i = d.find(pat, i + 4)
open(path, 'wb').write(d)
PY
	cp "$TMP/bad/data.mdb" "$TMP/bad.before"
	for cmd in log compile fsck "commit user lost"; do
		# shellcheck disable=SC2086 # the command's words
		fails "corrupt records: $cmd" "unreadable" "$TRACT" --db "lmdb:$TMP/bad" $cmd
	done
	cmp -s "$TMP/bad/data.mdb" "$TMP/bad.before" && ok || bad "corrupt records: data.mdb was written"
fi

finish "lmdb cli"
