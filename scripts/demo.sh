#!/usr/bin/env bash
# demo.sh - the README's demo: install what is missing, build tract into
# build/, then walk through a short session with the `tract` command on the
# default embedded SQLite store (.tract.db in a fresh temporary directory).
# Every command is echoed before it runs, so the output reads as a tutorial.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh
bash scripts/build.sh release

if [ ! -x "$root/build/cli/tract" ]; then
	printf 'demo: %s/build/cli/tract was not built\n' "$root" >&2
	exit 1
fi
# The binary finds its plugins in the build tree; nothing from the caller's
# environment may pick another store, tract or plugin directory.
export PATH="$root/build/cli:$PATH"
unset TRACT_DB TRACT_ID TRACT_PLUGIN_PATH

work=$(mktemp -d "${TMPDIR:-/tmp}/tract-demo.XXXXXX")
out=$(mktemp "${TMPDIR:-/tmp}/tract-demo-out.XXXXXX")
trap 'rm -rf "$work" "$out"' EXIT
cd "$work"

# Quote one argument the way a reader would type it in a shell.
quote() {
	case "$1" in
	'' | *[!A-Za-z0-9_./:=@%+,-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
	*) printf '%s' "$1" ;;
	esac
}

# Echo "$ tract ARGS..." then run it; its last line of output (for commit,
# the new hash) is kept in $last.
run() {
	local a line='$ tract'
	for a in "$@"; do
		line+=" $(quote "$a")"
	done
	printf '\n%s\n' "$line"
	tract "$@" | tee "$out"
	last=$(tail -n 1 "$out")
}

# run_fails ARGS: like run, for a command expected to fail with exit 1.
run_fails() {
	local a line='$ tract' rc=0
	for a in "$@"; do
		line+=" $(quote "$a")"
	done
	printf '\n%s\n' "$line"
	tract "$@" 2>&1 || rc=$?
	printf '(exit %d)\n' "$rc"
	if [[ $rc -ne 1 ]]; then
		printf 'demo: expected exit 1 from tract %s\n' "$*" >&2
		exit 1
	fi
}

note() { printf '\n# %s\n' "$*"; }

printf '\ntract demo: %s/build/cli/tract in %s\n' "$root" "$work"
printf '(store: .tract.db there, the default embedded SQLite backend)\n'

note "A new store and a tract in it; init prints the tract id."
run init --name bike-shop

note "Each piece of context is an immutable commit; commit prints its hash."
run commit instruction "You are a concise assistant for a bicycle repair shop." \
	-m "system prompt"
run commit user "My chain skips when I pedal hard. What should I check?"
asked=$last

note "Any content type can be committed as a JSON object with --json."
run commit reasoning --json \
	'{"content_type":"reasoning","text":"Skipping under load: worn chain or cassette, or indexing. Look up the bike first."}'
think=$last
run commit tool_io --json \
	'{"content_type":"tool_io","tool_name":"lookup_bike","direction":"call","payload":{"customer":"c-1042"}}'
run commit tool_io --json \
	'{"content_type":"tool_io","tool_name":"lookup_bike","direction":"result","status":"success","payload":{"model":"Trek FX 2","chain_km":4800}}' \
	--metadata '{"latency_ms":38}'
run commit assistant \
	"At 4800 km your chain is probably stretched; replace it (and check the cassette)." \
	--config '{"temperature":0.2}'
answer=$last

note "History is immutable: an edit is a new commit that replaces the answer when compiled."
run commit assistant \
	"At 4800 km your chain is likely stretched: measure it with a chain checker, replace it if worn, and check the cassette for shark-fin teeth." \
	--edit "${answer:0:12}" -m "more precise answer"
edited=$last

note "Annotations decide what is sent: skip the reasoning, keep it in history."
run annotate "${think:0:12}" skip --reason "internal reasoning, not for the model"

note "The history, newest first."
run log

note "Where HEAD is and how large the compiled context is."
run status

note "The messages a model receives: edit applied, skipped reasoning left out."
run compile --format openai

note "Branches: try a shorter answer on a side branch (from before the edit), then come back."
run switch -c shorter 'HEAD~1'
run commit assistant "Measure the chain; replace it if stretched."
run branch
run switch main
run tag answered
run tag

note "Ask a model: generate compiles HEAD, calls the provider and commits its reply."
note "'example' is the offline provider of plugins/example/ (no key, same answer every time)."
cat >tools.json <<'EOF'
[{"type": "function", "function": {"name": "check_stock", "description": "Parts in stock",
  "parameters": {"type": "object", "properties": {"part": {"type": "string"}},
  "required": ["part"]}}}]
EOF
run commit user "Do you have a chain for it in stock?"
run generate --provider example --tools tools.json --json
call_id=$(tract show --json HEAD | sed -n 's/.*"call_id": "\([^"]*\)".*/\1/p' | head -n 1)

note "The model asked for a tool; its result is committed naming the call, then generate again."
run commit tool-result --tool check_stock --call-id "$call_id" '{"part": "chain", "in_stock": 3}'
run generate --provider example --tools tools.json

note "The call, its result and the answer, as the OpenAI plugin would send them next."
run compile --format openai

note "A conflict: the model's answer edited one way on a branch and another way on main."
reply=$(tract show --json HEAD | sed -n 's/.*"commit_hash": "\([0-9a-f]*\)".*/\1/p' | head -n 1)
run switch -c friendly
run commit assistant "Good news: we have 3 chains in stock, come by any time!" \
	--edit "${reply:0:12}" -m "friendlier"
run switch main
run commit assistant "3 chains in stock." --edit "${reply:0:12}" -m "shorter"

note "merge finds both edits of one message: it lists the conflict, writes nothing, exits 1."
run_fails merge friendly

note "Resolve it: --strategy theirs takes the branch's text (ours would keep main's)."
run merge friendly --strategy theirs
run compile --format text

note "Both branches and the merge, drawn as git log --graph does."
run log --graph --oneline --all

note "Delegate: spawn a child tract for a sub-task; the parent records the spawn."
parent_id=$(tract status --json | sed -n 's/.*"tract_id": "\([^"]*\)".*/\1/p')
run spawn --purpose "compare chain wear gauges" --name gauge-scout
child_id=$last
note "The child works in its own tract (it inherited the parent's context)."
run --tract "$child_id" commit assistant "The Park Tool CC-3.2 reads 0.5% and 0.75% wear; a ruler works too."
note "Collapse: the child's work comes back to the parent as one summary."
run --tract "$parent_id" collapse "$child_id" \
	--summary "Subagent completed: a CC-3.2 gauge (or a ruler) measures chain wear."
collapse_hash=$last
run --tract "$parent_id" expand "${collapse_hash:0:12}"
run tracts

note "A budget for this tract (kept in the store), and old tool output shrunk to stubs:"
note "each old result becomes an edit keeping its call; the originals stay in history."
run commit tool-call --tool search_manual --call-id manual_1 '{"query": "chain skipping"}'
manual=$(for i in $(seq 1 40); do printf 'Section 4.%d: chain wear, cassette wear and derailleur indexing. ' "$i"; done)
run commit tool-result --tool search_manual --call-id manual_1 "$manual"
run commit assistant "The manual agrees: check wear first, then indexing."
run budget 2000 --auto-compact
run compact-tools --keep-turns 1 --dry-run
run compact-tools --keep-turns 1
run status

note "Compress the early stretch (question to edited answer) into one summary; the pinned"
note "instruction stays verbatim, the later commits are replayed on top, provenance is kept."
run compress "${asked:0:12}..${edited:0:12}" --provider example --dry-run
run compress "${asked:0:12}..${edited:0:12}" --provider example
run log -n 4
run compile --format text

printf '\ndemo finished; the temporary store is removed on exit.\n'
