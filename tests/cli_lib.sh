# cli_lib.sh - what the CLI test scripts share. Source it after setting
# TRACT (the binary) and TMP (a scratch directory):
#   . "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
# A script may redefine any function after sourcing: cli_exec to add
# arguments to every run (`cli_exec() { "$TRACT" --db "$DB" "$@"; }`),
# snapshot to have expect_fail and expect_usage check that nothing was
# written (it prints the store's state), or a stricter check of its own.

CLI_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); }
bad() {
	FAIL=$((FAIL + 1))
	printf 'FAIL: %s\n' "$*" >&2
}

cli_exec() { "$TRACT" "$@"; }

# run ARGS...: the CLI with ARGS (stdin from $STDIN, else /dev/null);
# sets RC, OUT and ERR.
run() {
	RC=0
	cli_exec "$@" <"${STDIN:-/dev/null}" >"$TMP/out" 2>"$TMP/err" || RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

cli_state() { if declare -F snapshot >/dev/null; then snapshot; fi; }

# expect_ok DESC ARGS...: exit 0.
expect_ok() {
	local desc=$1
	shift
	run "$@"
	if [[ $RC -eq 0 ]]; then ok; else bad "$desc: exit $RC, stderr: $ERR"; fi
}

# expect_usage DESC ARGS...: exit 2 with a message, nothing written.
expect_usage() {
	local desc=$1 before after
	shift
	before=$(cli_state)
	run "$@"
	after=$(cli_state)
	if [[ $RC -ne 2 || $ERR != "tract"* ]]; then
		bad "$desc: exit $RC (want 2), stderr: $ERR"
	elif [[ $before != "$after" ]]; then
		bad "$desc: the store changed: [$before] -> [$after]"
	else
		ok
	fi
}

# expect_fail DESC ARGS...: exit 1, one 'tract: ' line on stderr, nothing
# on stdout, nothing written.
expect_fail() {
	local desc=$1 before after
	shift
	before=$(cli_state)
	run "$@"
	after=$(cli_state)
	if [[ $RC -ne 1 ]]; then
		bad "$desc: exit $RC (want 1), stderr: $ERR"
	elif [[ $ERR != "tract: "* || $ERR == *$'\n'* ]]; then
		bad "$desc: stderr is not one 'tract: ' line: [$ERR]"
	elif [[ -n $OUT ]]; then
		bad "$desc: a failure printed to stdout: [${OUT:0:300}]"
	elif [[ $before != "$after" ]]; then
		bad "$desc: the store changed: [$before] -> [$after]"
	else
		ok
	fi
}

eq() { if [[ $2 == "$3" ]]; then ok; else bad "$1: got [$2] want [$3]"; fi; }
contains() { if [[ $2 == *"$3"* ]]; then ok; else bad "$1: missing [$3] in [${2:0:600}]"; fi; }
lacks() { if [[ $2 != *"$3"* ]]; then ok; else bad "$1: unexpected [$3] in [${2:0:600}]"; fi; }

# jtrue DESC EXPR [DESC EXPR...]: Python expressions over the JSON in $OUT
# (tests/cli_json.py); each counts as one check.
jtrue() {
	local n=$(($# / 2)) got
	got=$(printf '%s' "$OUT" | python3 "$CLI_LIB_DIR/cli_json.py" "$@") || got=0
	[[ $got =~ ^[0-9]+$ ]] || got=0
	PASS=$((PASS + got))
	FAIL=$((FAIL + n - got))
}

# finish NAME: the summary line; the script's exit status.
finish() {
	printf '%s: %d passed, %d failed\n' "$1" "$PASS" "$FAIL"
	[[ $FAIL -eq 0 ]]
}
