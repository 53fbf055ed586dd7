#!/usr/bin/env bash
# test_generate_cli.sh - `tract generate` end to end with the example
# provider (offline, deterministic): the whole tool loop from the command
# line (generate -> tool call committed -> commit tool-result naming the
# call -> generate again -> text reply committed), the compiled bodies valid
# in structure, streaming, --json, the stored defaults, and failures that
# commit nothing.
# Usage: test_generate_cli.sh PATH/TO/tract
set -uo pipefail
# shellcheck source=generate_cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/generate_cli_lib.sh"

TRACT=${1:?usage: test_generate_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
unset TRACT_DB TRACT_ID NO_COLOR TRACT_PROVIDER TRACT_MODEL TRACT_DEBUG
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-generate-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1
export TRACT_DB=$TMP/t.db


"$TRACT" init --name gen >/dev/null || { echo "init failed" >&2; exit 1; }
"$TRACT" commit instruction "You help bicycle shop customers." >/dev/null
"$TRACT" commit user "My chain skips. Customer c-1042." >/dev/null
cat >tools.json <<'EOF'
[{"type": "function", "function": {"name": "lookup_bike", "description": "Find a customer's bike",
  "parameters": {"type": "object", "properties": {"customer": {"type": "string"}},
  "required": ["customer"]}}}]
EOF

# 1. A tool call, committed with the model's call id.
out=$("$TRACT" generate --provider example --tools tools.json --json) || bad "generate with tools failed"
check "one commit" 'len(d["commits"]) == 1' <<<"$out"
check "a tool call" 'd["tool_calls"][0]["name"] == "lookup_bike" and d["text"] is None' <<<"$out"
check "provider named" 'd["provider"] == "example" and d["model"] == "example-1"' <<<"$out"
check "finish reason" 'd["finish_reason"] == "tool_calls"' <<<"$out"
check "usage" 'd["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + d["usage"]["completion_tokens"]' <<<"$out"
call_id=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tool_calls"][0]["id"])')
check "tool_io call with the id" 'd["content"]["content_type"] == "tool_io" and d["content"]["direction"] == "call" and d["content"]["call_id"] == "'"$call_id"'"' <<<"$("$TRACT" show --json HEAD)"
check "config on the call" 'd["generation_config"]["provider"] == "example" and d["generation_config"]["usage"]["prompt_tokens"] > 0' <<<"$("$TRACT" show --json HEAD)"

# 2. The result, naming the call; generate again: a text reply.
"$TRACT" commit tool-result --tool lookup_bike --call-id "$call_id" '{"model": "Trek FX 2", "chain_km": 4800}' >/dev/null ||
	bad "commit tool-result failed"
text=$("$TRACT" generate --provider example --tools tools.json) || bad "second generate failed"
case $text in
"The tool lookup_bike returned: "*) ok ;;
*) bad "second generate printed: $text" ;;
esac
check "assistant reply committed" 'd["content"]["content_type"] == "dialogue" and d["content"]["role"] == "assistant"' <<<"$("$TRACT" show --json HEAD)"

# 3. The body the openai and anthropic plugins would send: calls and results paired.
check "openai: assistant tool_calls then tool message" '[m["role"] for m in d["messages"]] == ["system", "user", "assistant", "tool", "assistant"] and d["messages"][2]["tool_calls"][0]["id"] == d["messages"][3]["tool_call_id"] == "'"$call_id"'" and isinstance(d["messages"][2]["tool_calls"][0]["function"]["arguments"], str)' <<<"$("$TRACT" compile --format openai)"
check "anthropic: tool_use then tool_result" '"system" in d and d["messages"][1]["content"][-1]["type"] == "tool_use" and d["messages"][2]["content"][0]["tool_use_id"] == "'"$call_id"'"' <<<"$("$TRACT" compile --format anthropic)"

# 4. Streaming prints the same text and commits once.
n=$(commits)
"$TRACT" commit user "Thanks. Anything else?" >/dev/null
s=$("$TRACT" generate --provider example --stream) || bad "stream failed"
[ "$s" = "Example reply: Thanks." ] && ok || bad "stream printed: $s"
[ "$(commits)" = $((n + 2)) ] && ok || bad "stream: expected $((n + 2)) commits, got $(commits)"
check "streamed reply is HEAD" 'd[0]["content_type"] == "dialogue"' <<<"$("$TRACT" log --json -n 1)"

# 5. Defaults: saved with --save, used without --provider; env wins.
"$TRACT" generate --provider example --model ex-2 --save >/dev/null || bad "--save failed"
check "stored provider and model used" 'd["provider"] == "example" and d["model"] == "ex-2"' <<<"$("$TRACT" generate --json)"
check "TRACT_MODEL wins" 'd["model"] == "ex-env"' <<<"$(TRACT_MODEL=ex-env "$TRACT" generate --json)"
check "--model wins" 'd["model"] == "ex-3"' <<<"$("$TRACT" generate --model ex-3 --json)"

# 6. Failures commit nothing, one line on stderr.
n=$(commits)
for args in "--provider nosuch" "--provider ../x" "--provider example,nosuch" \
	"--provider example --tools $TMP/missing.json" "--provider example -o colour=red" \
	"--provider example --tool-choice nosuch --tools tools.json"; do
	# shellcheck disable=SC2086
	if "$TRACT" generate $args >out.txt 2>err.txt; then
		bad "generate $args succeeded"
	else
		[ "$(wc -l <err.txt)" = 1 ] && grep -q '^tract: ' err.txt && ok || bad "generate $args: stderr $(cat err.txt)"
	fi
done
printf '[{"type": "function"}]' >badtools.json
"$TRACT" generate --provider example --tools badtools.json 2>/dev/null && bad "bad tools accepted" || ok
[ "$(commits)" = "$n" ] && ok || bad "a failed generate committed something"
# No provider anywhere.
"$TRACT" init --name other >/dev/null
ID2=$("$TRACT" tracts --json | python3 -c 'import json,sys; print([t["tract_id"] for t in json.load(sys.stdin) if t["display_name"] == "other"][0])')
"$TRACT" --tract "$ID2" commit user hi >/dev/null
if "$TRACT" --tract "$ID2" generate 2>err.txt; then bad "generate without a provider"; else
	grep -q 'no provider' err.txt && ok || bad "no provider: $(cat err.txt)"
fi
# Usage errors exit 2.
"$TRACT" generate --provider example --temperature hot 2>/dev/null
[ $? = 2 ] && ok || bad "--temperature hot is not a usage error"
"$TRACT" generate --save 2>/dev/null
[ $? = 2 ] && ok || bad "--save alone is not a usage error"

# 7. Debug lines name the attempts, never the key.
TRACT_DEBUG=1 "$TRACT" generate --provider example -o example.api_key=sk-never-printed-123 2>err.txt >/dev/null || bad "debug run failed"
grep -q 'attempt 1/3' err.txt && ok || bad "no debug line: $(cat err.txt)"
grep -q 'sk-never-printed' err.txt && bad "the key was printed" || ok

# 8. The whole history is sound.
"$TRACT" fsck >/dev/null && ok || bad "fsck failed"
"$TRACT" generate --help | grep -q -- '--tools FILE' && ok || bad "help lacks --tools"

printf 'test_generate_cli: %d passed, %d failed\n' "$PASS" "$FAIL"
[ "$FAIL" = 0 ]
