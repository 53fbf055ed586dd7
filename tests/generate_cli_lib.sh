# generate_cli_lib.sh - what the `tract generate` shell tests share
# (test_generate_cli.sh, test_generate_mock_cli.sh): sourced after TRACT
# is set. tests/cli_lib.sh (counters, reporting), a JSON check, the
# commit count.

# shellcheck source=cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
# check DESC PYTHON-EXPR: d is the JSON on stdin.
check() {
	local desc=$1 expr=$2 out
	out=$(python3 -c 'import json,sys
d=json.load(sys.stdin)
print("yes" if eval(sys.argv[1]) else "no")' "$expr" 2>&1)
	if [ "$out" = yes ]; then ok; else bad "$desc: $expr ($out)"; fi
}
commits() { "$TRACT" log --json -n 1000 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
