#!/usr/bin/env bash
# test_hostile.sh - the hostile-input table: every `tract` command run with
# hostile arguments and inputs must fail cleanly and change nothing.
#
# Usage: test_hostile.sh PATH/TO/tract
#
# For each case of the table (at the end of this file):
#   - the exit status is 1 (operation error) or 2 (usage error);
#   - exit 1: stderr is exactly one line, "tract: MESSAGE";
#     exit 2: stderr is exactly three lines, "tract[ CMD]: MESSAGE",
#     "usage: tract ..." and "Try 'tract ...' for more information.";
#   - stderr holds no control character (but the line ends), no C1
#     control, no bidi override or isolate, and is valid UTF-8;
#   - "hunter2" (the password of the conninfo cases) is nowhere in the
#     output;
#   - the store is unchanged: `fsck --json`, `log --json -n 1000` and the
#     row count of every table are the same as before; the fixture files
#     are byte for byte the same; the working directory stays empty (no
#     store created under a strange name).
# It prints how many cases ran and fails on any violation, naming the case.
#
# Adding a case: one line in the table, "STDIN | ARGS". STDIN is '-' (no
# input: /dev/null) or @NAME (the fixture file $FX/NAME on standard input).
# ARGS are shell words (quoted as in bash; $VARIABLES of this script, such as
# $FX, $BIG, $DEEP or $STORE, are expanded). The store is $TRACT_DB unless
# the case passes --db itself. A case must be one that fails: the table is
# of inputs the command has to refuse.
set -uo pipefail

TRACT=${1:?usage: test_hostile.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
unset TRACT_ID NO_COLOR
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-hostile.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FX=$TMP/fx
STORE=$TMP/store.db
mkdir -p "$FX" "$FX/dir" "$TMP/cwd"
export TRACT_DB=$STORE

if ! command -v sqlite3 >/dev/null; then
	echo "test_hostile: sqlite3 (the row counts) not found" >&2
	exit 1
fi

die() {
	printf 'test_hostile: %s\n' "$*" >&2
	exit 1
}

# ---- the store: two tracts, every kind of commit, an edit, annotations ----

ID=$("$TRACT" init --name main) || die "init failed"
export TRACT_ID=$ID
"$TRACT" init --name other >/dev/null || die "init other failed"
C1=$("$TRACT" commit instruction 'Be brief.' -m setup) || die "commit failed"
C2=$("$TRACT" commit user 'hello' --name alice --metadata '{"k":1}') || die "commit failed"
C3=$("$TRACT" commit assistant 'hi' --response-to "$C2" --config '{"temperature":0.5}') ||
	die "commit failed"
"$TRACT" commit system 'sys' >/dev/null || die "commit failed"
"$TRACT" commit user 'hello again' --edit "$C2" -m fixed >/dev/null || die "edit failed"
"$TRACT" commit freeform --json '{"payload":{"a":[1,2]}}' >/dev/null || die "json commit failed"
"$TRACT" annotate "$C3" pinned --reason keep >/dev/null || die "annotate failed"
export C1 C2 C3

# ---- fixtures --------------------------------------------------------------

: >"$FX/empty"
head -c 4096 /dev/urandom >"$FX/random"
printf 'not utf-8: \xff\xfe\xc0\x80 end\n' >"$FX/badutf8"
printf 'nul \0 inside\n' >"$FX/nul"
# 1 MB of text with an invalid byte at its end (refused by every reader).
{
	head -c 1048576 /dev/zero | tr '\0' 'a'
	printf '\xff'
} >"$FX/big_bad"
# 1 MB JSON object, truncated.
{
	printf '{"text":"'
	head -c 1048576 /dev/zero | tr '\0' 'b'
} >"$FX/big_truncated.json"
printf '{"text": "abc' >"$FX/truncated.json"
printf '{"text": "a", "text": "b"}' >"$FX/dup.json"
printf '{"text": NaN}' >"$FX/nan.json"
printf '{"text": "x", "n": 1e999999}' >"$FX/huge.json"
printf '[1, 2, 3]' >"$FX/array.json"
DEEP=$(printf '%*s' 10000 '' | tr ' ' '[')$(printf '%*s' 10000 '' | tr ' ' ']')
printf '{"payload": %s}' "$DEEP" >"$FX/deep.json"
DEEPOBJ="{\"a\":$DEEP}"
# A long argument: 1 MB cannot be passed (Linux's MAX_ARG_STRLEN is 128 KiB
# per argument); 1 MB inputs go through files and standard input instead.
BIG=$(head -c 120000 /dev/zero | tr '\0' 'x')
BIGBAD=$BIG$'\xff'
# Messages that grow when sanitized (each ESC is shown as 4 characters) or
# must be cut inside multi-byte characters.
ESCS=$(printf '\e%.0s' {1..1500})
ACUTES=$(printf '\xc3\xa9%.0s' {1..3000})
# A SQLite database that is not a tract store.
sqlite3 "$FX/other.db" 'create table t(x); insert into t values (1);' ||
	die "sqlite3 failed"
# Another tract store (clone refuses a destination holding tract data).
"$TRACT" --db "$FX/store2.db" init --name second >/dev/null || die "init store2 failed"
CONNINFO='host=localhost user=tract password=hunter2 dbname=tract'
# Tool definitions for generate (valid; the cases that use it fail elsewhere).
printf '[{"type": "function", "function": {"name": "lookup"}}]' >"$FX/tools.json"
printf '[{"type": "function", "function": {"name": "a b"}}]' >"$FX/badtools.json"
unset TRACT_PROVIDER TRACT_MODEL TRACT_DEBUG
export FX BIG BIGBAD ESCS ACUTES DEEP DEEPOBJ CONNINFO
# Navigation: a revision of 100 000 carets (refused as too long).
HATS=HEAD$(head -c 100000 /dev/zero | tr '\0' '^')
export HATS

# ---- state of the store and the fixtures -------------------------------------

state() {
	"$TRACT" fsck --json 2>&1
	"$TRACT" log --json -n 1000 2>&1
	sqlite3 "$STORE" "$COUNTS"
	(cd "$FX" && find . -type f -print0 | sort -z | xargs -0 md5sum)
	find "$FX" -type d | sort
	ls -A "$TMP/cwd"
}

# One query: the row count of every table of the store.
COUNTS=$(sqlite3 "$STORE" "select group_concat('select ''' || name || ' '' || count(*) from \"' ||
	name || '\"', ' union all ') from sqlite_master where type = 'table'")
[ -n "$COUNTS" ] || die "no tables in the store"
BEFORE=$(state)
[ -n "$BEFORE" ] || die "no state"
printf '%s\n' "$BEFORE" | grep -q '"commit_count"\|commits [1-9]' || die "store looks empty"

# ---- one case ----------------------------------------------------------------

RAN=0
FAILED=0
# Bytes no terminal output may hold (LF removed first): C0 controls, DEL, C1
# controls, U+200E-200F, U+2028-202E, U+2066-2069, U+061C.
HAZARDS='[\x00-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|\xd8\x9c'
fail_case() {
	FAILED=$((FAILED + 1))
	printf 'FAIL [%s]: %s\n' "$CASE" "$*" >&2
}

run_case() {
	local input=$1 args=$2 in=/dev/null status lines err
	CASE=$(printf "%s | %s" "$input" "$args" | cut -c1-160 | cat -v)
	case $input in
	-) ;;
	@*) in=$FX/${input#@} ;;
	*)
		fail_case "bad STDIN column"
		return
		;;
	esac
	eval "set -- $args" || {
		fail_case "cannot parse ARGS"
		return
	}
	RAN=$((RAN + 1))
	(cd "$TMP/cwd" && timeout 120 "$TRACT" "$@" <"$in" >"$TMP/out" 2>"$TMP/err")
	status=$?
	err=$TMP/err
	[ -z "${HOSTILE_TIMING:-}" ] || printf '%s %s\n' "$SECONDS" "$CASE" >&2
	if [ "$status" -ne 1 ] && [ "$status" -ne 2 ]; then
		fail_case "exit status $status (stderr: $(head -c 300 "$err"))"
	fi
	lines=$(wc -l <"$err")
	if [ -s "$err" ] && [ "$(tail -c 1 "$err" | od -An -c | tr -d ' ')" != '\n' ]; then
		fail_case "stderr does not end with a newline"
	fi
	if [ "$status" -eq 1 ]; then
		[ "$lines" -eq 1 ] ||
			fail_case "exit 1 with $lines stderr lines: $(head -c 300 "$err")"
		head -n 1 "$err" | grep -q '^tract: .' ||
			fail_case "exit 1, stderr is not 'tract: ...': $(head -c 300 "$err")"
	elif [ "$status" -eq 2 ]; then
		[ "$lines" -eq 3 ] ||
			fail_case "exit 2 with $lines stderr lines: $(head -c 300 "$err")"
		sed -n 1p "$err" | grep -q '^tract\( [a-z-]*\)\?: .' ||
			fail_case "exit 2, line 1 is not 'tract[ CMD]: ...'"
		sed -n 2p "$err" | grep -q '^usage: tract' ||
			fail_case "exit 2, line 2 is not the usage line"
		sed -n 3p "$err" | grep -q "^Try 'tract.*--help' for more information\.$" ||
			fail_case "exit 2, line 3 is not the hint"
	fi
	if tr -d '\n' <"$err" | LC_ALL=C grep -qaP \
		"$HAZARDS"; then
		fail_case "control or bidi character in stderr: $(od -c "$err" | head -5)"
	fi
	iconv -f UTF-8 -t UTF-8 <"$err" >/dev/null 2>&1 || fail_case "stderr is not valid UTF-8"
	if grep -qa hunter2 "$TMP/out" "$err"; then
		fail_case "the password is in the output"
	fi
	if [ "$(state)" != "$BEFORE" ]; then
		fail_case "the store or the fixtures changed: $(diff <(printf '%s\n' "$BEFORE") \
			<(state) | head -10)"
		BEFORE=$(state) # report each change once
	fi
}

# ---- the table ---------------------------------------------------------------

# Comments and blank lines are skipped; "STDIN | ARGS" per line.
while IFS= read -r line; do
	case $line in '' | '#'*) continue ;; esac
	run_case "$(printf '%s' "${line%%|*}" | tr -d ' ')" "${line#*|}"
done <<'TABLE'
# --- global options and dispatch ---
- |
- | nosuch
- | $'\e[31mcmd'
- | --bogus log
- | --db
- | --db '' log
- | --tract '' log
- | help $'\e]0;title\a'
# --- bad store locations (every command that opens one) ---
- | --db sqlite: log
- | --db nosuch:x log
- | --db "$CONNINFO" log
- | --db "$CONNINFO" init
- | --db 'password=hunter2' init
- | --db "$CONNINFO" tracts
- | --db "postgresql://u:hunter2@127.0.0.1:1/db" tracts
- | --db "lmdb:$FX/empty" log
- | --db "$FX/empty" log
- | --db "$FX/empty" tracts
- | --db "$FX/empty" fsck
- | --db "$FX/empty" status
- | --db "$FX/random" log
- | --db "$FX/random" init
- | --db "$FX/random" fsck
- | --db "$FX/random" commit user hi
- | --db "$FX/dir" log
- | --db "$FX/dir" init
- | --db "$FX/dir" fsck
- | --db "$FX/other.db" log
- | --db "$FX/other.db" status
- | --db "$FX/nosuch.db" log
- | --db "$FX/nosuch.db" fsck
- | --db "$FX/nosuch.db" tracts
- | --db "$FX/nosuch/x.db" init
- | --db $'\e[2J.db' log
- | --db $'\xff.db' tracts
- | --db "sqlite://host/x.db" init
- | --db "sqlite://u:hunter2@host/x.db" init
- | --db "sqlite://u:hunter2@host/x.db" log
- | --db "lmdb://u:hunter2@host/dir" init
- | --db "lmdb://u:hunter2@host/dir" log
- | --db "$BIG" log
- | --tract nosuch log
- | --tract $'\e[31m' status
- | --tract "'; DROP TABLE commits; --" log
- | --tract "$BIG" status
# --- init ---
- | init --name ''
- | init --name $'\xff\xfe'
- | init --name "$BIGBAD"
- | init --id ''
- | init --id '../x'
- | init --id $'a\eb'
- | init --id "'; DROP TABLE commits; --"
- | init --id "$BIG"
- | init --id $'\u202eabc'
- | init --name
- | init extra
- | init --bogus
# --- commit, each kind ---
- | commit
- | commit ''
- | commit user
- | commit user $'\xff\xfe'
- | commit user "$BIGBAD"
@badutf8 | commit user -
@big_bad | commit user -
@nul | commit assistant -
- | commit assistant $'\xc0\x80'
- | commit system $'\xed\xa0\x80'
- | commit instruction $'bad \xf8 byte'
- | commit user hi extra
- | commit user hi -m
- | commit user hi -m $'\xff'
- | commit user hi --name
- | commit user hi --name $'\xff'
- | commit instruction hi --name bob
- | commit $'\e[31mkind' text
- | commit "'; DROP TABLE commits; --" text
- | commit nosuchtype text
- | commit dialogue
- | commit freeform --json '{"text": "abc'
- | commit freeform --json '{"payload": 1, "payload": 2}'
- | commit freeform --json '{"payload": NaN}'
- | commit freeform --json '{"payload": 1e999999}'
- | commit freeform --json '[1,2]'
- | commit freeform --json "$DEEPOBJ"
- | commit freeform --json '{}' --file "$FX/dup.json"
- | commit freeform --json '{}' text
- | commit freeform --json
- | commit freeform --file "$FX/truncated.json"
- | commit freeform --file "$FX/dup.json"
- | commit freeform --file "$FX/nan.json"
- | commit freeform --file "$FX/huge.json"
- | commit freeform --file "$FX/array.json"
- | commit freeform --file "$FX/deep.json"
- | commit freeform --file "$FX/empty"
- | commit freeform --file "$FX/random"
- | commit freeform --file "$FX/dir"
- | commit freeform --file "$FX/nosuch"
- | commit freeform --file "$FX/nul"
@big_truncated.json | commit freeform --file -
@deep.json | commit user --file - extra
- | commit user hi --metadata '{"a":1,"a":2}'
- | commit user hi --metadata '{"a":NaN}'
- | commit user hi --metadata '{"a":1e999}'
- | commit user hi --metadata '[]'
- | commit user hi --metadata "$DEEPOBJ"
- | commit user hi --metadata "{\"a\":\"$BIGBAD\"}"
- | commit user hi --config '{"t":'
- | commit user hi --config "'; DROP TABLE commits; --"
- | commit user hi --response-to ''
- | commit user hi --response-to 2
- | commit user hi --response-to 0000000000000000000000000000000000000000000000000000000000000000f
- | commit user hi --response-to ../
- | commit user hi --response-to 'HEAD~99'
- | commit user hi --response-to $'\e[31m'
- | commit user hi --response-to "'; DROP TABLE commits; --"
- | commit user hi --edit ''
- | commit user hi --edit 2
- | commit user hi --edit 'HEAD~99'
- | commit user hi --edit "$C2" --response-to "$C1"
- | commit user hi --edit $'\u202e'
# --- commit tool-call / tool-result ---
- | commit tool-call
- | commit tool-call '{}'
- | commit tool-call --tool
- | commit tool-call --tool calc
- | commit tool-call --tool '' '{}'
- | commit tool-call --tool $'\xff' '{}'
- | commit tool-call --tool calc '[1]'
- | commit tool-call --tool calc 'not json'
- | commit tool-call --tool calc '{"a":'
- | commit tool-call --tool calc '{"a":1,"a":2}'
- | commit tool-call --tool calc '{"a":NaN}'
- | commit tool-call --tool calc '{"a":1e999999}'
- | commit tool-call --tool calc "$DEEPOBJ"
- | commit tool-call --tool calc "{\"a\":\"$BIGBAD\"}"
@big_truncated.json | commit tool-call --tool calc -
@big_bad | commit tool-call --tool calc -
@nul | commit tool-call --tool calc -
@huge.json | commit tool-call --tool calc - --max-size 8
- | commit tool-call --tool calc --call-id '' '{}'
- | commit tool-call --tool calc --call-id 'a b' '{}'
- | commit tool-call --tool calc --call-id $'\e[31m' '{}'
- | commit tool-call --tool calc --call-id "'; DROP TABLE commits; --" '{}'
- | commit tool-call --tool calc --call-id "$BIG" '{}'
- | commit tool-call --tool calc --call-id $'caf\xc3\xa9' '{}'
- | commit tool-call --tool calc --status error '{}'
- | commit tool-call --tool calc --json '{}'
- | commit tool-call --tool calc --file "$FX/dup.json"
- | commit tool-call --tool calc '{}' extra
- | commit user hi --tool calc
- | commit user hi --call-id call_1
- | commit tool-result --tool calc ok
- | commit tool-result --call-id call_1 ok
- | commit tool-result --tool calc --call-id call_nosuch ok
- | commit tool-result --tool calc --call-id call_nosuch '{"v":1}'
- | commit tool-result --tool calc --call-id call_1 --status failed ok
- | commit tool-result --tool calc --call-id call_1 --status '' ok
- | commit tool-result --tool calc --call-id 'x y' ok
- | commit tool-result --tool calc --call-id call_1 "$BIGBAD"
@badutf8 | commit tool-result --tool calc --call-id call_1 -
- | commit tool-result --tool calc --call-id call_1
- | compile --reasoning
- | compile --format text --reasoning
# --- annotate ---
- | annotate
- | annotate "$C1"
- | annotate "$C1" urgent
- | annotate "$C1" $'\e[31m'
- | annotate "$C1" pinned extra
- | annotate '' pinned
- | annotate 2 pinned
- | annotate 0000000000000000000000000000000000000000000000000000000000000000f skip
- | annotate ../ skip
- | annotate 'HEAD~99' skip
- | annotate $'\e[2J' skip
- | annotate $'\u202e' skip
- | annotate $'\xff' skip
- | annotate "'; DROP TABLE annotations; --" skip
- | annotate "$BIG" skip
- | annotate "$C1" pinned --reason $'\xff'
- | annotate "$C1" pinned --reason
# --- log ---
- | log ''
- | log 2
- | log 0000000000000000000000000000000000000000000000000000000000000000f
- | log ../
- | log 'HEAD~99'
- | log $'\e[31m'
- | log $'\u202eabc'
- | log $'\xff'
- | log "'; DROP TABLE commits; --"
- | log "$BIG"
- | log -n
- | log -n 0
- | log -n -1
- | log -n ' 5'
- | log -n '5 '
- | log -n +5
- | log -n 99999999999999999999999
- | log -n 5x
- | log -n $'\e'
- | log -n "$ESCS"
- | log "$ESCS"
- | show "$ACUTES"
- | commit "$ACUTES$ESCS" text
- | nosuch"$ESCS"
- | log --op
- | log --op merge
- | log --op $'\e[31m'
- | log --oneline -v
- | log a b
- | log --bogus
# --- show ---
- | show
- | show ''
- | show 2
- | show abc
- | show 0000000000000000000000000000000000000000000000000000000000000000f
- | show ../
- | show 'HEAD~99'
- | show $'\e[31m'
- | show $'\u202e'
- | show $'\xff'
- | show "'; DROP TABLE commits; --"
- | show "$BIG"
- | show "$C1" "$C2"
- | show --bogus "$C1"
# --- status ---
- | status extra
- | status --bogus
- | status --json=1
# --- compile ---
- | compile --format
- | compile --format xml
- | compile --format $'\e[31m'
- | compile --json --format text
- | compile --at
- | compile --at ''
- | compile --at 2
- | compile --at 'HEAD~99'
- | compile --at $'\xff'
- | compile --at "$C1" --at-time 2026-01-01
- | compile --at-time yesterday
- | compile --at-time 99999-99-99T99:99:99Z
- | compile --at-time $'\e[31m'
- | compile --at-time "$BIG"
- | compile extra
# --- tracts ---
- | tracts extra
- | tracts --bogus
# --- tokens ---
@badutf8 | tokens
@big_bad | tokens
- | tokens "$FX/badutf8"
- | tokens "$FX/random"
- | tokens "$FX/dir"
- | tokens "$FX/nosuch"
- | tokens --encoding
- | tokens --encoding nosuch
- | tokens --encoding $'\e[31m'
- | tokens --encoding o200k_base --model gpt-4o
- | tokens a b
# --- gc ---
- | gc extra
- | gc --bogus
- | gc --retention-days
- | gc --retention-days -1
- | gc --retention-days x
- | gc --retention-days ' 1'
- | gc --retention-days 99999999999999999999999
- | gc --archive-retention-days ''
- | gc --archive-retention-days -5
- | gc --branch ghost
- | gc --branch ''
- | gc --branch $'\e[31m'
- | gc --branch $'\xff'
- | gc --branch "x'; DROP TABLE commits; --"
- | gc --dry-run --branch ghost
# --- reorder ---
- | reorder
- | reorder --bogus "$C1"
- | reorder "$C1" "$C1"
- | reorder nosuchref
- | reorder ''
- | reorder $'\e[31m'
- | reorder $'\xff'
- | reorder "x'; DROP TABLE commits; --"
- | reorder "$C3" --strict
- | reorder "$C1" --format nosuch
- | reorder "$C1" --at nosuchref
# --- compact-tools ---
- | compact-tools extra
- | compact-tools --bogus
- | compact-tools --keep-turns
- | compact-tools --keep-turns -1
- | compact-tools --keep-turns x
- | compact-tools --keep-turns 99999999999999999999999
- | compact-tools --min-bytes -5
- | compact-tools --min-bytes ''
- | compact-tools --max-bytes 0
- | compact-tools --max-bytes $'\e[31m'
- | compact-tools --dry-run --keep-turns $'\xff'
# --- budget ---
- | budget x
- | budget -1
- | budget ''
- | budget 1 2
- | budget 5 --off
- | budget --auto-compact --no-auto-compact
- | budget --bogus
- | budget 99999999999999999999999
- | budget $'\e[31m'
- | budget "x'; DROP TABLE meta; --"
# budget: the auto-compress policy's options
- | budget --auto-compress --auto-compact
- | budget --auto-compress --no-auto-compact
- | budget --target-fraction
- | budget --target-fraction 0
- | budget --target-fraction -0.5
- | budget --target-fraction 1.01
- | budget --target-fraction nan
- | budget --target-fraction inf
- | budget --target-fraction 1e999
- | budget --target-fraction ''
- | budget --target-fraction ' 0.5'
- | budget --target-fraction 0.5x
- | budget --target-fraction $'\e[31m'
- | budget --target-fraction $'\xff'
- | budget --target-fraction "$BIG"
- | budget 5 --auto-compress --target-fraction 2
# --- fsck ---
- | fsck extra
- | fsck --bogus
# --- plugins ---
- | plugins extra
- | plugins --bogus
# --- clone ---
- | clone
- | clone "$STORE"
- | clone "$STORE" a b
- | clone '' "$FX/c.db"
- | clone "$STORE" ''
- | clone "$STORE" "$STORE"
- | clone "$STORE" "$FX/dir"
- | clone "$STORE" "$FX/dir/"
- | clone "$STORE" "$FX/store2.db"
- | clone "$STORE" "$FX/random"
- | clone "$FX/empty" "$FX/c.db"
- | clone "$FX/random" "$FX/c.db"
- | clone "$FX/dir" "$FX/c.db"
- | clone "$FX/nosuch.db" "$FX/c.db"
- | clone nosuch:x "$FX/c.db"
- | clone "$STORE" nosuch:x
- | clone "$STORE" sqlite:
- | clone "$STORE" "$CONNINFO"
- | clone "$CONNINFO" "$FX/c.db"
- | clone "$STORE" $'\e[2J'/x.db
- | clone --bogus "$STORE" "$FX/c.db"
# --- diff and log --graph ---
- | diff ''
- | diff 2
- | diff abc
- | diff 0000000000000000000000000000000000000000000000000000000000000000f
- | diff ../
- | diff $'\e[31m'
- | diff $'\u202eabc'
- | diff $'\xff'
- | diff "'; DROP TABLE commits; --"
- | diff "$BIG"
- | diff "$ESCS"
- | diff "$C1" nosuch
- | diff "$C1" ''
- | diff "$C1" $'\xff'
- | diff "$C1" "$C2" "$C3"
- | diff --bogus
- | diff -U
- | diff -U -1
- | diff -U x
- | diff -U 99999999999999999999999
- | diff --stat --bogus
- | log --graph nosuch
- | log --graph ''
- | log --graph $'\e[31m'
- | log --graph $'\xff'
- | log --graph "$BIG"
- | log --graph --json
- | log --graph -v
- | log --graph --op edit
- | log --graph -n 0
- | log --graph -n x
- | log --graph --all a b
# --- timeline, search, wait ---
- | timeline extra
- | timeline --bogus
- | timeline --tract ''
- | timeline --tract $'\xff'
- | timeline --type $'\e[31m'$'\xff'
- | timeline --since yesterday
- | timeline --until $'\u202e2026'
- | timeline -n 0
- | timeline -n x
- | timeline --db "$FX/nosuch.db"
- | timeline --graph --json
- | timeline --graph --tract ''
- | search
- | search ''
- | search $'\xff'
- | search a b
- | search --bogus a
- | search a --branch main
- | search a --tract nosuch --branch main
- | search a --tract "$C1" --branch ''
- | search a --since 2026-13-45
- | search a -n -1
- | search a --db "$FX/random"
- | wait extra
- | wait --bogus
- | wait --timeout
- | wait --timeout x
- | wait --timeout -1
- | wait --timeout nan
- | wait --timeout 0
- | wait --timeout 0.05 --past HEAD
- | wait --past nosuch --timeout 1
- | wait --past $'\e[31m' --timeout 1
- | wait --past "$BIG" --timeout 1
- | wait --tract nosuch --timeout 1
- | wait --collapsed
- | wait --collapsed nosuch --timeout 0
- | wait --collapsed '' --timeout 0
- | wait --collapsed $'\e[31m' --timeout 0
- | wait --collapsed "$BIG" --timeout 0
- | wait --tract $'\xff' --timeout 1
- | wait --ref '' --timeout 1
- | wait --ref $'\xff' --timeout 1
- | wait --db "$FX/nosuch.db" --timeout 1
# --- reset ---
- | reset
- | reset ''
- | reset nosuch
- | reset 'HEAD~99'
- | reset 'HEAD^3'
- | reset 'main~99999999999999999999'
- | reset 'HEAD~-1'
- | reset '~1'
- | reset "$HATS"
- | reset $'\xff'
- | reset $'\e[31m'
- | reset $'\u202e'
- | reset "'; DROP TABLE refs; --"
- | reset '%%%%'
- | reset "$BIG"
- | reset a b
- | reset --bogus HEAD
# --- checkout ---
- | checkout
- | checkout -
- | checkout ''
- | checkout nosuch
- | checkout 'HEAD~99'
- | checkout 'main^^^^^^^^^^^^^^^^'
- | checkout "$HATS"
- | checkout $'\xff'
- | checkout $'\e]0;pwn\a'
- | checkout "'; DROP TABLE refs; --"
- | checkout "$BIG"
- | checkout a b
- | checkout -x
# --- switch ---
- | switch
- | switch -
- | switch nosuch
- | switch "$C1"
- | switch 'main~1'
- | switch $'\xff'
- | switch "'; DROP TABLE refs; --"
- | switch main HEAD
- | switch -c
- | switch -c -
- | switch -c main
- | switch -c 'a b'
- | switch -c $'a\x01b'
- | switch -c 'x@{1}'
- | switch -c '@'
- | switch -c "$BIG"
- | switch -c new nosuch
- | switch -c new "$HATS"
- | switch -c new 'main~99999999999999999999'
- | switch -c a b c
# --- branch ---
- | branch ''
- | branch 'a b'
- | branch 'a..b'
- | branch -- -x
- | branch '@'
- | branch HEAD
- | branch x.lock
- | branch 'a/.b'
- | branch $'a\x01b'
- | branch $'a\e[31m'
- | branch $'a\u202eb'
- | branch 'a@{1}'
- | branch $'\xff'
- | branch "'; DROP TABLE refs; --"
- | branch "$BIG"
- | branch main
- | branch new nosuch
- | branch new "$HATS"
- | branch new 'main~99999999999999999999'
- | branch new $'\xff'
- | branch -d main
- | branch -D main
- | branch -d nosuch
- | branch -d $'\xff'
- | branch -d "$BIG"
- | branch -d
- | branch -m a
- | branch -m nosuch x
- | branch -m main 'a b'
- | branch -m main $'\e[2J'
- | branch -d -m a b
- | branch --json x
- | branch --force x
- | branch a b c
- | branch --bogus
# --- tag ---
- | tag ''
- | tag 'v 1'
- | tag $'\xff'
- | tag $'\e[31m'
- | tag "'; DROP TABLE refs; --"
- | tag "$BIG"
- | tag v1 nosuch
- | tag v1 "$HATS"
- | tag v1 'HEAD~99'
- | tag -d nosuch
- | tag -d $'\xff'
- | tag -d
- | tag a b c
- | tag --json a
- | tag --bogus
# --- merge (the store has only main: every merge below fails) ---
- | merge
- | merge ''
- | merge a b
- | merge --bogus main
- | merge --strategy
- | merge --strategy semantic main
- | merge --strategy $'\e[31mours' main
- | merge --strategy "$BIG" main
- | merge ghost
- | merge --no-ff --json ghost
- | merge --strategy theirs ghost
- | merge $'\e[2Jghost'
- | merge $'\xff'
- | merge "$BIG"
- | merge "$BIGBAD"
- | merge "$ESCS"
- | merge "$ACUTES"
- | merge ../main
- | merge refs/heads/main
- | merge HEAD
- | merge "$C1"
- | merge $'main\nmain'
- | --db "$FX/other.db" merge main
- | --db "$FX/nosuch.db" merge main
- | --db "$FX/random" merge main
- | --db "$CONNINFO" merge main
- | --tract nosuch merge main
# --- cherry-pick ---
- | cherry-pick
- | cherry-pick --json
- | cherry-pick "$C1" extra
- | cherry-pick --bogus "$C1"
- | cherry-pick ''
- | cherry-pick 2
- | cherry-pick nosuch
- | cherry-pick 'HEAD~99'
- | cherry-pick 0000000000000000000000000000000000000000000000000000000000000000f
- | cherry-pick $'\e[2J'
- | cherry-pick $'\u202e'
- | cherry-pick $'\xff'
- | cherry-pick "'; DROP TABLE commits; --"
- | cherry-pick "$BIG"
- | cherry-pick "$ESCS"
- | --db "$FX/random" cherry-pick "$C1"
- | --db "$FX/other.db" cherry-pick "$C1"
- | --db "$FX/nosuch.db" cherry-pick "$C1"
# --- rebase ---
- | rebase
- | rebase --json
- | rebase main extra
- | rebase --bogus main
- | rebase ''
- | rebase 2
- | rebase nosuch
- | rebase 'main~99'
- | rebase $'\e[31mmain'
- | rebase $'\u202e'
- | rebase $'\xff'
- | rebase "'; DROP TABLE refs; --"
- | rebase "$BIG"
- | rebase "$ACUTES"
- | --db "$FX/random" rebase main
- | --db "$FX/nosuch.db" rebase main
# --- multi-agent: spawn, collapse, expand, resume, session ---
- | spawn
- | spawn extra --purpose p
- | spawn --bogus
- | spawn --purpose
- | spawn --purpose "$BIGBAD"
- | spawn --purpose $'\xff'
- | spawn --purpose p --inherit nosuch
- | spawn --purpose p --inherit ''
- | spawn --purpose p --inherit selective
- | spawn --purpose p --inherit full_clone --commit "$C1"
- | spawn --purpose p --commit ffffffffffff
- | spawn --purpose p --commit ''
- | spawn --purpose p --commit $'\e[31m'
- | spawn --purpose p --type "x'; DROP TABLE commits; --" --commit nosuch
- | spawn --purpose p --max-tokens 0
- | spawn --purpose p --max-tokens -3
- | spawn --purpose p --max-tokens x
- | spawn --purpose p --max-tokens 1 --inherit full_clone
- | spawn --purpose p --name $'\xff'
- | spawn --purpose p --name "$BIG"
- | spawn --purpose p --id 'bad id'
- | spawn --purpose p --id "$ID"
- | spawn --purpose p --id ../../etc
- | spawn --purpose p --id ''
- | collapse
- | collapse --bogus
- | collapse nochild
- | collapse nochild --summary s
- | collapse nochild --llm --provider nosuch
- | collapse nochild --summary s --llm
- | collapse "$ID" --summary s
- | collapse nochild --summary ''
- | collapse nochild --summary $'\xff'
@badutf8 | collapse nochild --summary -
@nul | collapse nochild --summary -
@empty | collapse nochild --summary -
- | collapse nochild --summary s --target-tokens 0
- | collapse nochild --summary s extra
- | collapse --approve
- | collapse --approve 0123abcd
- | collapse --approve ../x
- | collapse --approve "$BIG"
- | collapse --discard 0123abcd
- | collapse --discard $'\e[2J'
- | collapse --approve 0123 --discard 0123
- | collapse --drafts extra
- | collapse --approve 0123abcd --llm
- | expand
- | expand a b
- | expand --bogus
- | expand ab
- | expand zzzz
- | expand ffffffffffff
- | expand "$C1"
- | expand "$BIGBAD"
- | expand $'\e[31mabcd'
- | resume extra
- | resume --bogus
- | --db "$FX/nosuch.db" resume
- | --db "$FX/other.db" resume
- | session
- | session start
- | session pause summary
- | session start summary extra
- | session start $'\xff'
- | session start s --decision $'\xff'
- | session start s --next
- | session --bogus start s
- | --tract nosuch session end s
# --- merge, cherry-pick, rebase --llm (the LLM resolver; the example
# provider answers offline, so each case fails before or beside it) ---
- | merge --llm main
- | merge --llm ghost
- | merge --llm --provider example ghost
- | merge --llm --provider nosuch main
- | merge --llm --provider ../example main
- | merge --llm --provider "$BIG" main
- | merge --llm --provider $'\e[31mred' main
- | merge --llm --provider example --model $'\xff' ghost
- | merge --llm --provider example -o colour=1 ghost
- | merge --llm -o junk main
- | merge --provider example main
- | merge --model m main
- | merge --llm --strategy ours main
- | merge --llm --provider example --json "$ESCS"
- | cherry-pick --llm --provider example nosuch
- | cherry-pick --llm --provider nosuch "$C1"
- | cherry-pick --llm "$C1"
- | cherry-pick --model m "$C1"
- | cherry-pick --llm --provider example -o "$BIG" "$C1"
- | rebase --llm --provider example nosuch
- | rebase --llm --provider nosuch main
- | rebase --provider example main
- | rebase --llm --provider example --model '' ghost
# --- compress ---
- | compress
- | compress --bogus
- | compress --summary s --llm
- | compress --review --dry-run --summary s
- | compress a b --summary s
- | compress '' --summary s
- | compress nosuch --summary s
- | compress 'main~99' --summary s
- | compress "$C3..$C1" --summary s
- | compress nosuch.. --summary s
- | compress ..nosuch --summary s
- | compress $'\e[31m' --summary s
- | compress $'\xff' --summary s
- | compress "'; DROP TABLE commits; --" --summary s
- | compress "$BIG" --summary s
- | compress --summary ''
- | compress --summary '   '
- | compress --summary $'\xff'
- | compress --summary a --summary b --summary c --summary d --summary e
- | compress --summary s --target-tokens 0
- | compress --summary s --target-tokens x
- | compress --summary s --preserve nosuch
- | compress --summary s --preserve ''
- | compress --summary s --instructions $'\xff'
- | compress --llm --provider nosuch
- | compress --llm --provider ../example
- | compress --approve
- | compress --approve nosuch
- | compress --approve 00000000000000000000000000000000
- | compress --discard "$BIG"
- | compress --discard $'\e[31m'
- | compress --show "'; DROP TABLE _trace_meta; --"
- | compress --approve x --discard y
- | compress --approve x --summary s
- | --db "$FX/random" compress --summary s
- | --db "$FX/nosuch.db" compress --summary s
# --- generate (the example provider answers offline: every case here must
# fail before it is asked, or be refused by it) ---
- | generate
- | generate --provider nosuch
- | generate --provider ../example
- | generate --provider example/x
- | generate --provider example.so
- | generate --provider $'\e[31mred'
- | generate --provider "$BIG"
- | generate --provider "$BIGBAD"
- | generate --provider ,
- | generate --provider example,
- | generate --provider a,b,c,d,e,f,g,h,i
- | generate --provider example,nosuch
- | generate --provider "$CONNINFO"
- | generate --provider example --tools "$FX/nosuch.json"
- | generate --provider example --tools "$FX/dir"
- | generate --provider example --tools "$FX/empty"
- | generate --provider example --tools "$FX/random"
- | generate --provider example --tools "$FX/badutf8"
- | generate --provider example --tools "$FX/nul"
- | generate --provider example --tools "$FX/big_bad"
- | generate --provider example --tools "$FX/big_truncated.json"
- | generate --provider example --tools "$FX/deep.json"
- | generate --provider example --tools "$FX/dup.json"
- | generate --provider example --tools "$FX/nan.json"
- | generate --provider example --tools "$FX/huge.json"
- | generate --provider example --tools "$FX/array.json"
- | generate --provider example --tools "$FX/badtools.json"
@big_truncated.json | generate --provider example --tools -
@random | generate --provider example --tools -
- | generate --provider example --tools "$FX/tools.json" --tool-choice nosuch
- | generate --provider example --tools "$FX/tools.json" --tool-choice "$BIGBAD"
- | generate --provider example --tool-choice required
- | generate --provider example --tools "$FX/tools.json" --max-size 10
- | generate --provider example --temperature nan
- | generate --provider example --temperature -1
- | generate --provider example --temperature 1e999
- | generate --provider example --temperature ''
- | generate --provider example --max-tokens 0
- | generate --provider example --max-tokens -5
- | generate --provider example --max-tokens 99999999999999999999999
- | generate --provider example --retries -1
- | generate --provider example --retries 1000
- | generate --provider example --timeout 0
- | generate --provider example --timeout inf
- | generate --provider example -o noequals
- | generate --provider example -o =value
- | generate --provider example -o colour=red
- | generate --provider example -o "$BIG=x"
- | generate --provider example -o sentences=0
- | generate --provider example -o "model=$BIGBAD"
- | generate --provider example --model "$BIGBAD"
- | generate --provider example -m "$BIGBAD"
- | generate --provider example --model sk-hunter2-key --save
- | generate --save
- | generate --provider example --stream --json
- | generate --provider example extra
- | generate --bogus
- | generate --provider
- | --tract nosuch generate --provider example
- | --db "$FX/other.db" generate --provider example
- | --db "$CONNINFO" generate --provider example
TABLE

# ---- regressions of the reliability issue (each on a store of its own) -------

CASE=regression
check() { # DESC COMMAND...: the command must succeed
	local desc=$1
	shift
	RAN=$((RAN + 1))
	CASE=$desc
	"$@" || fail_case "failed"
}
R=$TMP/reg
mkdir -p "$R/dir"
cd "$R" || die "cd"
export TRACT_DB=$R/r.db
unset TRACT_ID

# 6. A writing command whose output cannot be written: the change is
# stored, the exit status is 0, one warning line says so.
out_full() { # EXPECTED_ROWS_AFTER TABLE COMMAND...
	local rows=$1 table=$2 status
	shift 2
	"$TRACT" "$@" >/dev/full 2>"$R/err"
	status=$?
	[ "$status" -eq 0 ] || { echo "exit $status" >&2; return 1; }
	[ "$(wc -l <"$R/err")" -eq 1 ] &&
		grep -q '^tract: warning: the change is stored' "$R/err" ||
		{ cat "$R/err" >&2; return 1; }
	[ -z "$table" ] || [ "$(sqlite3 "$TRACT_DB" "select count(*) from $table")" = "$rows" ]
}
check "init >/dev/full" out_full "" "" init --name full
check "commit >/dev/full" out_full 1 commits commit user 'stored once'
H=$("$TRACT" log --json -n 1 | sed -n 's/.*"commit_hash": "\([0-9a-f]*\)".*/\1/p')
check "annotate >/dev/full" out_full 1 annotations annotate "$H" pinned
check "clone >/dev/full" out_full "" "" clone "$TRACT_DB" "$R/c.db"
check "clone >/dev/full made the copy" test -s "$R/c.db"
read_full() { ! "$TRACT" log >/dev/full 2>/dev/null; }
check "a read command to /dev/full fails" read_full

# 8. One sanitizer for every human output; JSON stays exact.
"$TRACT" init --name $'evil\e[31m\nname\u202e' >/dev/null
"$TRACT" commit user $'hi \e]0;pwn\a \u202eabc' -m $'msg\e[2J\u2066x' >/dev/null
no_ctl() { # COMMAND...: its stdout holds no control/bidi character but LF
	"$@" >"$R/out" 2>&1 || return 1
	! tr -d '\n' <"$R/out" | LC_ALL=C grep -qaP "$HAZARDS"
}
shows_escape() { "$TRACT" tracts | grep -qF 'evil\x1B[31m\x0Aname\u202E'; }
json_exact() { "$TRACT" tracts --json | grep -qF "evil\\u001b[31m\\nname"$'\u202e'; }
check "tracts is sanitized" no_ctl "$TRACT" tracts
check "tracts shows the escapes" shows_escape
check "log is sanitized" no_ctl "$TRACT" log
check "log --oneline is sanitized" no_ctl "$TRACT" log --oneline
check "log -v is sanitized" no_ctl "$TRACT" log -v
check "show is sanitized" no_ctl "$TRACT" show HEAD
check "status is sanitized" no_ctl "$TRACT" status
check "tracts --json is exact" json_exact

# 9. Store locations.
relative() { "$TRACT" --db sqlite:///rel.db init >/dev/null && test -f "$R/rel.db"; }
absolute() { "$TRACT" --db "sqlite:///$R/dir2/abs.db" init >/dev/null && test -f "$R/dir2/abs.db"; }
conninfo() {
	! "$TRACT" --db "host=h password=hunter2" init >"$R/out" 2>&1 &&
		! grep -q hunter2 "$R/out" && ! ls "$R" | grep -q =
}
mkdir -p "$R/dir2"
check "sqlite:///rel.db is relative" relative
check "sqlite:////abs.db is absolute" absolute
check "a libpq string is refused, its password not shown" conninfo

# 11. Small ones.
short_ref() {
	! "$TRACT" show 2 >"$R/out" 2>&1 && grep -q "at least 4 hex digits" "$R/out"
}
clone_dir() { ! "$TRACT" clone "$TRACT_DB" dir/ 2>/dev/null && [ -z "$(ls -A dir)" ]; }
verbose_meta() {
	"$TRACT" commit user x --metadata '{"k":7}' >/dev/null &&
		"$TRACT" log -v -n 1 | grep -q 'Metadata: .*7'
}
check "show 2 names the 4-digit rule" short_ref
check "clone into a directory is refused" clone_dir
check "log -v prints the metadata its help promises" verbose_meta

printf 'test_hostile: %d case(s) ran, %d violation(s)\n' "$RAN" "$FAILED"
[ "$FAILED" -eq 0 ]
