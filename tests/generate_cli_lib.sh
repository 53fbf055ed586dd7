# generate_cli_lib.sh - what the `tract generate` shell tests share
# (test_generate_cli.sh, test_generate_mock_cli.sh): sourced after TRACT
# is set. Counters and reporting, a JSON check, the commit count.

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); }
bad() {
	FAIL=$((FAIL + 1))
	printf 'FAIL: %s\n' "$*" >&2
}
# check DESC PYTHON-EXPR: d is the JSON on stdin.
check() {
	local desc=$1 expr=$2 out
	out=$(python3 -c 'import json,sys
d=json.load(sys.stdin)
print("yes" if eval(sys.argv[1]) else "no")' "$expr" 2>&1)
	if [ "$out" = yes ]; then ok; else bad "$desc: $expr ($out)"; fi
}
commits() { "$TRACT" log --json -n 1000 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
