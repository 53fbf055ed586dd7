#!/usr/bin/env bash
# test_generate_mock_cli.sh - `tract generate` against an HTTP server: the
# scripted loopback server (mock_llm_server, tests/mock_llm_main.c) started
# per case on 127.0.0.1 with an ephemeral port, through the openai and the
# anthropic plugin. For each wire format: a text reply committed (whole and
# streamed), a tool loop (a tool call whole, its result, a tool call
# streamed, its result, a text reply) with every body sent valid against
# the provider's published schema and pairing rules (check_body), a 401
# that exits 1 with one line and commits nothing; the API key in no output,
# no debug line and no commit, and only in the header the provider takes;
# and `merge --llm` resolving a conflict through the openai plugin.
# Usage: test_generate_mock_cli.sh PATH/TO/tract PATH/TO/mock_llm_server PATH/TO/check_body
set -uo pipefail
# shellcheck source=generate_cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/generate_cli_lib.sh"

TRACT=${1:?usage: test_generate_mock_cli.sh TRACT MOCK_LLM_SERVER CHECK_BODY}
MOCK=${2:?usage: test_generate_mock_cli.sh TRACT MOCK_LLM_SERVER CHECK_BODY}
CHECK_BODY=${3:?usage: test_generate_mock_cli.sh TRACT MOCK_LLM_SERVER CHECK_BODY}
for v in TRACT MOCK CHECK_BODY; do
	case ${!v} in /*) ;; *) printf -v "$v" '%s' "$PWD/${!v}" ;; esac
done
unset TRACT_DB TRACT_ID NO_COLOR TRACT_PROVIDER TRACT_MODEL TRACT_DEBUG
unset OPENAI_API_KEY OPENAI_BASE_URL ANTHROPIC_API_KEY ANTHROPIC_BASE_URL
unset TRACT_OPENAI_API_KEY TRACT_OPENAI_BASE_URL TRACT_ANTHROPIC_API_KEY TRACT_ANTHROPIC_BASE_URL
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-generate-mock.XXXXXX")
MOCK_PID=
cleanup() {
	[ -n "$MOCK_PID" ] && kill -TERM "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
cd "$TMP" || exit 1
KEY=sk-mock-SECRET-0123456789abcdef

no_key() { # no_key DESC FILE...
	local desc=$1
	shift
	if grep -q -e "$KEY" -e "0123456789abcdef" "$@"; then bad "$desc: the key is in $*"; else ok; fi
}

# serve NAME RESPONSE...: a server in $TMP/NAME answering with the
# responses in order (mock_llm_main.c: STATUS[/sse]=FILE); SRV and URL set.
serve() {
	local i
	SRV=$TMP/srv-$1
	shift
	mkdir -p "$SRV"
	"$MOCK" "$SRV" "$@" 2>"$SRV/stderr" &
	MOCK_PID=$!
	for i in $(seq 1 1000); do
		[ -f "$SRV/url" ] && break
		sleep 0.01
	done
	URL=$(cat "$SRV/url") || { bad "mock server did not start: $(cat "$SRV/stderr")"; return 1; }
}
# serve_w NAME RESPONSE...: serve, the wire format's plugin pointed at it,
# and the commit count before the case in n.
serve_w() {
	serve "$@" || return 1
	export "TRACT_${W_UP}_BASE_URL=$URL"
	n=$(commits)
}
# stop: the server writes what it received (count, N.body, N.headers).
stop() {
	kill -TERM "$MOCK_PID"
	wait "$MOCK_PID" || bad "mock server exited $?: $(cat "$SRV/stderr")"
	MOCK_PID=
	[ -f "$SRV/done" ] || bad "mock server wrote no record"
}
requests() { cat "$SRV/count"; }

# ---- the replies, in each wire format ----
cat >tools.json <<'EOF'
[{"type": "function", "function": {"name": "lookup_bike", "description": "Find a customer's bike",
  "parameters": {"type": "object", "properties": {"customer": {"type": "string"}},
  "required": ["customer"]}}}]
EOF
OA='"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18"'
cat >openai.text <<'EOF'
{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}
EOF
cat >openai.text.sse <<EOF
data: {$OA,"choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}

data: {$OA,"choices":[{"index":0,"delta":{"content":" there."},"finish_reason":null}]}

data: {$OA,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: {$OA,"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}

data: [DONE]

EOF
cat >openai.tool <<'EOF'
{"id":"chatcmpl-2","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"lookup_bike","arguments":"{\"customer\":\"c-1042\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":40,"completion_tokens":20,"total_tokens":60}}
EOF
cat >openai.tool.sse <<EOF
data: {$OA,"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_b","type":"function","function":{"name":"lookup_bike","arguments":""}}]},"finish_reason":null}]}

data: {$OA,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"customer\\":"}}]},"finish_reason":null}]}

data: {$OA,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"c-7\\"}"}}]},"finish_reason":null}]}

data: {$OA,"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: [DONE]

EOF
AN_START='event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}
'
# The end of an Anthropic stream: the block, the stop reason, the usage.
an_end() {
	printf 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
	printf 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"%s","stop_sequence":null},"usage":{"output_tokens":%s}}\n\n' "$1" "$2"
	printf 'event: message_stop\ndata: {"type":"message_stop"}\n'
}
cat >anthropic.text <<'EOF'
{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hello there."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":3}}
EOF
cat >anthropic.text.sse <<EOF
$AN_START
event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type":"ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there."}}

$(an_end end_turn 3)

EOF
cat >anthropic.tool <<'EOF'
{"id":"msg_2","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"tool_use","id":"call_a","name":"lookup_bike","input":{"customer":"c-1042"}}],"stop_reason":"tool_use","usage":{"input_tokens":40,"output_tokens":20}}
EOF
cat >anthropic.tool.sse <<EOF
$AN_START
event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"call_b","name":"lookup_bike","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"customer\\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\\"c-7\\"}"}}

$(an_end tool_use 20)

EOF
# A 401 whose message echoes the key, as OpenAI's does.
printf '{"type":"error","error":{"type":"authentication_error","message":"Incorrect API key provided: %s"}}' "$KEY" >auth.json

for W in openai anthropic; do
	case $W in
	openai) KEY_HEADER=Authorization KEY_VALUE="Bearer $KEY" MODEL=gpt-4o-mini-2024-07-18 ;;
	anthropic) KEY_HEADER=x-api-key KEY_VALUE=$KEY MODEL=claude-sonnet-4-5-20250929 ;;
	esac
	W_UP=$(printf '%s' "$W" | tr a-z A-Z)
	export TRACT_DB=$TMP/$W.db
	export "TRACT_${W_UP}_API_KEY=$KEY"
	"$TRACT" init --name "gen-$W" >/dev/null || { bad "$W: init failed"; continue; }
	"$TRACT" commit instruction "You help bicycle shop customers." >/dev/null
	"$TRACT" commit user "My chain skips. Customer c-1042." >/dev/null

	# 1. A text reply, whole: printed, committed with its config and usage.
	serve_w "$W-text" 200="$W.text" || continue
	out=$("$TRACT" generate --provider "$W" --json 2>err.txt) || bad "$W: generate failed: $(cat err.txt)"
	stop
	check "$W: text" 'd["text"] == "Hello there." and d["tool_calls"] == []' <<<"$out"
	check "$W: model and provider" 'd["provider"] == "'"$W"'" and d["model"] == "'"$MODEL"'"' <<<"$out"
	check "$W: usage" 'd["usage"]["prompt_tokens"] == 12 and d["usage"]["completion_tokens"] == 3' <<<"$out"
	[ "$(commits)" = $((n + 1)) ] && ok || bad "$W: text reply not committed once"
	check "$W: HEAD is the reply" 'd["content"]["role"] == "assistant" and d["content"]["text"] == "Hello there." and d["generation_config"]["provider"] == "'"$W"'"' <<<"$("$TRACT" show --json HEAD)"
	[ "$(requests)" = 1 ] && ok || bad "$W: $(requests) requests for one generate"
	"$CHECK_BODY" "$W" "$SRV/0.body" && ok || bad "$W: text body invalid"
	grep -qi "^$KEY_HEADER: $KEY_VALUE"$'\r'"\?$" "$SRV/0.headers" && ok || bad "$W: no $KEY_HEADER header: $(cat "$SRV/0.headers")"
	no_key "$W: text" err.txt <(printf '%s' "$out")

	# 2. The same streamed: printed as it arrives, committed once.
	serve_w "$W-stream" 200/sse="$W.text.sse" || continue
	out=$("$TRACT" generate --provider "$W" --stream 2>err.txt) || bad "$W: --stream failed: $(cat err.txt)"
	stop
	[ "$out" = "Hello there." ] && ok || bad "$W: --stream printed '$out'"
	[ "$(commits)" = $((n + 1)) ] && ok || bad "$W: streamed reply not committed once"
	check "$W: streamed HEAD" 'd["content"]["text"] == "Hello there."' <<<"$("$TRACT" show --json HEAD)"
	check "$W: stream asked for" 'd.get("stream") is True' <"$SRV/0.body"
	"$CHECK_BODY" "$W" "$SRV/0.body" && ok || bad "$W: streamed body invalid"

	# 3. The tool loop: a call (whole), its result, a call (streamed), its
	# result, a text reply; every body valid, the calls and results paired.
	serve_w "$W-tools" 200="$W.tool" 200/sse="$W.tool.sse" 200="$W.text" || continue
	out=$("$TRACT" generate --provider "$W" --tools tools.json --json 2>err.txt) || bad "$W: tool generate failed: $(cat err.txt)"
	check "$W: tool call" 'd["text"] is None and d["tool_calls"][0]["id"] == "call_a" and d["tool_calls"][0]["name"] == "lookup_bike" and json.loads(d["tool_calls"][0]["arguments"]) == {"customer": "c-1042"}' <<<"$out"
	check "$W: call committed" 'd["content"]["content_type"] == "tool_io" and d["content"]["direction"] == "call" and d["content"]["call_id"] == "call_a"' <<<"$("$TRACT" show --json HEAD)"
	"$TRACT" commit tool-result --tool lookup_bike --call-id call_a '{"model": "Trek FX 2"}' >/dev/null || bad "$W: tool-result a"
	out=$("$TRACT" generate --provider "$W" --tools tools.json --stream 2>err.txt) || bad "$W: streamed tool generate failed: $(cat err.txt)"
	check "$W: streamed call committed" 'd["content"]["content_type"] == "tool_io" and d["content"]["call_id"] == "call_b"' <<<"$("$TRACT" show --json HEAD)"
	"$TRACT" commit tool-result --tool lookup_bike --call-id call_b '{"model": "Brompton"}' >/dev/null || bad "$W: tool-result b"
	out=$("$TRACT" generate --provider "$W" --tools tools.json 2>err.txt) || bad "$W: final generate failed: $(cat err.txt)"
	stop
	[ "$out" = "Hello there." ] && ok || bad "$W: final reply printed '$out'"
	[ "$(commits)" = $((n + 5)) ] && ok || bad "$W: tool loop: $(($(commits) - n)) commits, 5 expected"
	[ "$(requests)" = 3 ] && ok || bad "$W: tool loop: $(requests) requests"
	"$CHECK_BODY" "$W" "$SRV/0.body" "$SRV/1.body" "$SRV/2.body" && ok || bad "$W: a tool-loop body is invalid"
	case $W in
	openai) check "$W: both calls answered in the last body" '[m.get("tool_call_id") for m in d["messages"] if m["role"] == "tool"] == ["call_a", "call_b"] and d["tools"][0]["function"]["name"] == "lookup_bike"' <"$SRV/2.body" ;;
	anthropic) check "$W: both calls answered in the last body" '[b["tool_use_id"] for m in d["messages"] if isinstance(m["content"], list) for b in m["content"] if b["type"] == "tool_result"] == ["call_a", "call_b"] and d["tools"][0]["name"] == "lookup_bike"' <"$SRV/2.body" ;;
	esac
	no_key "$W: tool loop" err.txt "$SRV/0.body" "$SRV/1.body" "$SRV/2.body"

	# 4. A 401: exit 1, one line, the key nowhere, one request, no commit.
	serve_w "$W-401" 401=auth.json || continue
	TRACT_DEBUG=1 "$TRACT" generate --provider "$W" >out.txt 2>err.txt
	rc=$?
	stop
	[ "$rc" = 1 ] && ok || bad "$W: 401 exited $rc"
	grep -v '^tract: debug' err.txt >err1.txt
	[ "$(wc -l <err1.txt)" = 1 ] && grep -q '^tract: .*auth' err1.txt && ok || bad "$W: 401 stderr: $(cat err1.txt)"
	grep -q 'attempt 1/' err.txt && ok || bad "$W: no debug line for the attempt: $(cat err.txt)"
	no_key "$W: 401" out.txt err.txt
	[ "$(requests)" = 1 ] && ok || bad "$W: 401 retried ($(requests) requests)"
	[ "$(commits)" = "$n" ] && ok || bad "$W: a 401 committed something"
	[ -s out.txt ] && bad "$W: 401 printed on stdout: $(cat out.txt)" || ok

	# The key is in no commit either.
	"$TRACT" log --json -n 1000 >log.json
	no_key "$W: store" log.json
	"$TRACT" fsck >/dev/null && ok || bad "$W: fsck failed"
	unset "TRACT_${W_UP}_API_KEY" "TRACT_${W_UP}_BASE_URL"
done

# 5. The core's retries and the fallback list, through the plugins: a 429
# with Retry-After then success (the wait honoured), 500 twice then
# success, 500 on every attempt (exactly the attempts --retries allows)
# then the next provider answers and the reply says which.
export TRACT_DB=$TMP/retry.db TRACT_OPENAI_API_KEY=$KEY TRACT_ANTHROPIC_API_KEY=$KEY
"$TRACT" init --name retry >/dev/null && "$TRACT" commit user "My chain skips." >/dev/null || bad "retry: init failed"
printf '{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}' >429.json
printf '{"error":{"message":"The server had an error","type":"server_error"}}' >500.json
W_UP=OPENAI
serve_w retry-429 429/retry1=429.json 200=openai.text
t0=$(date +%s%N)
out=$("$TRACT" generate --provider openai 2>err.txt) || bad "429 then 200 failed: $(cat err.txt)"
t1=$(date +%s%N)
stop
[ "$out" = "Hello there." ] && ok || bad "429 then 200 printed '$out'"
[ "$(requests)" = 2 ] && ok || bad "429 then 200: $(requests) requests"
[ $(((t1 - t0) / 1000000)) -ge 1000 ] && ok || bad "Retry-After: 1 not waited ($(((t1 - t0) / 1000000)) ms)"
serve_w retry-500 500=500.json 500=500.json 200=openai.text
out=$("$TRACT" generate --provider openai --retries 2 --json 2>err.txt) || bad "500, 500, 200 failed: $(cat err.txt)"
stop
check "500 twice then success" 'd["text"] == "Hello there." and d["provider"] == "openai"' <<<"$out"
[ "$(requests)" = 3 ] && ok || bad "500, 500, 200: $(requests) requests"
serve retry-all 500=500.json 500=500.json 500=500.json 500=500.json
export TRACT_OPENAI_BASE_URL=$URL
OA_PID=$MOCK_PID OA_SRV=$SRV
W_UP=ANTHROPIC
serve_w fallback 200=anthropic.text
out=$("$TRACT" generate --provider openai,anthropic --retries 2 --json 2>err.txt) || bad "fallback failed: $(cat err.txt)"
stop
[ "$(requests)" = 1 ] && ok || bad "fallback: $(requests) requests to anthropic"
MOCK_PID=$OA_PID SRV=$OA_SRV
stop
[ "$(requests)" = 3 ] && ok || bad "openai failing: $(requests) requests, 3 (--retries 2) expected"
check "the fallback answered" 'd["text"] == "Hello there." and d["provider"] == "anthropic"' <<<"$out"
check "the reply records it" 'd["generation_config"]["provider"] == "anthropic"' <<<"$("$TRACT" show --json HEAD)"
no_key "retries" err.txt <(printf '%s' "$out")

# merge --llm through the openai plugin: one conflict (both sides edited
# one message), one request whose body is valid, the answer committed as
# the resolution; the key in no output.
export TRACT_DB=$TMP/merge.db
"$TRACT" init >/dev/null
X=$("$TRACT" commit user "The meeting is on Monday.")
"$TRACT" branch feature >/dev/null
"$TRACT" commit user "The meeting is on Tuesday." --edit "$X" >/dev/null
"$TRACT" switch feature >/dev/null
"$TRACT" commit user "The meeting is on Wednesday." --edit "$X" >/dev/null
"$TRACT" switch main >/dev/null
sed 's/Hello there\./The meeting is on Thursday./' openai.text >openai.resolve
W_UP=OPENAI
serve_w merge-llm 200=openai.resolve
out=$("$TRACT" merge feature --llm --provider openai 2>err.txt) || bad "merge --llm through openai failed: $(cat err.txt)"
stop
[ "$(requests)" = 1 ] && ok || bad "merge --llm: $(requests) requests, 1 expected"
"$CHECK_BODY" openai "$SRV/0.body" 2>err2.txt && ok || bad "merge --llm: the body sent is invalid: $(cat err2.txt)"
check "merge --llm: the resolution compiled" 'd["messages"][-1]["content"] == "The meeting is on Thursday."' <<<"$("$TRACT" compile --json)"
no_key "merge --llm" err.txt <(printf '%s' "$out")
unset TRACT_DB

# check_body refuses what the APIs refuse: a tool result nothing called.
printf '{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_x","content":"r"}]}' >bad.openai
"$CHECK_BODY" openai bad.openai 2>/dev/null && bad "check_body accepted an unpaired tool message" || ok
printf '{"model":"m","messages":[{"role":"user","content":"hi"}]}' >nomax.anthropic
"$CHECK_BODY" anthropic nomax.anthropic 2>/dev/null && bad "check_body accepted a body without max_tokens" || ok

printf 'test_generate_mock_cli: %d passed, %d failed\n' "$PASS" "$FAIL"
[ "$FAIL" = 0 ]
