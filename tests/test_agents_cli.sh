#!/usr/bin/env bash
# test_agents_cli.sh - the multi-agent commands on a SQLite store: spawn
# (its id, --json pointer, the parent's spawn commit, inheritance modes),
# tracts --json (display names, parents, is_active), collapse --summary,
# the since-previous rule, --review drafts approved and discarded, --llm
# with the offline example provider, expand, session, resume; errors
# exit 1 and write nothing; fsck clean after.
# Usage: test_agents_cli.sh PATH/TO/tract
set -euo pipefail

TRACT=${1:?usage: test_agents_cli.sh PATH/TO/tract}
case $TRACT in /*) ;; *) TRACT=$PWD/$TRACT ;; esac
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
unset TRACT_DB TRACT_ID NO_COLOR TRACT_PROVIDER
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tract-agents-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
command -v sqlite3 >/dev/null || { echo "test_agents_cli: sqlite3 not found" >&2; exit 1; }

same() { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', expected '$3'"; fi; }
contains() { case $3 in *"$2"*) ok ;; *) bad "$1: '$2' not in: $3" ;; esac; }
rows() { sqlite3 .tract.db "select count(*) from $1"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

P=$("$TRACT" init --name orchestrator)
export TRACT_ID=$P
"$TRACT" session start "Plan the offsite" --next "find a venue" >/dev/null
"$TRACT" commit instruction "Coordinate sub-agents." >/dev/null
"$TRACT" commit user "Find a venue in Porto." >/dev/null
before=$("$TRACT" log --json -n 1 | json 'd[0]["commit_hash"]')

C=$("$TRACT" spawn --purpose "find venue options" --name venue-scout)
same "spawn prints a 32-hex id" "$(printf '%s' "$C" | grep -cE '^[0-9a-f]{32}$')" 1
same "the parent's spawn commit" "$("$TRACT" log --json -n 1 | json 'd[0]["message"]')" "spawn: find venue options"
ptr=$("$TRACT" spawn --purpose "budget" --inherit full_clone --json)
same "spawn --json: mode" "$(printf '%s' "$ptr" | json 'd["inheritance_mode"]')" full_clone
same "spawn --json: parent head before the spawn" \
	"$(printf '%s' "$ptr" | json 'd["parent_commit_hash"] is not None')" True
same "pointer rows" "$(rows spawn_pointers)" 2
same "first pointer's parent commit" \
	"$(sqlite3 .tract.db "select parent_commit_hash from spawn_pointers where child_tract_id='$C'")" "$before"
same "the child inherited one pinned instruction" "$(TRACT_ID=$C "$TRACT" log --json | json 'len(d)')" 1
contains "inherited text" "[user]: Find a venue in Porto." "$(TRACT_ID=$C "$TRACT" compile --format text)"
S=$("$TRACT" spawn --purpose "rules only" --type instruction)
same "selective carries the instruction" "$(TRACT_ID=$S "$TRACT" compile --json | json 'd["messages"][0]["content"]')" "Coordinate sub-agents."

tj=$("$TRACT" tracts --json)
same "tracts: display name of the child" \
	"$(printf '%s' "$tj" | json "[t['display_name'] for t in d if t['tract_id']=='$C'][0]")" venue-scout
same "tracts: parent of the child" \
	"$(printf '%s' "$tj" | json "[t['parent_tract_id'] for t in d if t['tract_id']=='$C'][0]")" "$P"
same "tracts: display name of the root persisted" \
	"$(printf '%s' "$tj" | json "[t['display_name'] for t in d if t['tract_id']=='$P'][0]")" orchestrator

TRACT_ID=$C "$TRACT" commit assistant "Casa do Rio fits: 3,200 EUR." >/dev/null
H1=$("$TRACT" collapse "$C" --summary "Subagent completed: Casa do Rio fits.")
same "collapse prints the commit" "$("$TRACT" log --json -n 1 | json 'd[0]["commit_hash"]')" "$H1"
same "collapse message" "$("$TRACT" log --json -n 1 | json 'd[0]["message"]')" "collapse: find venue options"
same "collapse metadata names the child" \
	"$("$TRACT" log --json -n 1 | json 'd[0]["metadata"]["collapse_source_tract_id"]')" "$C"
n=$(rows commits)
if "$TRACT" collapse "$C" --summary again 2>err; then bad "nothing new: refused"; else ok; fi
contains "nothing new: the reason" "nothing to collapse" "$(cat err)"
same "nothing new: nothing written" "$(rows commits)" "$n"
if "$TRACT" --tract "$C" collapse "$S" --summary x 2>err; then bad "wrong parent refused"; else ok; fi
same "wrong parent: nothing written" "$(rows commits)" "$n"

TRACT_ID=$C "$TRACT" commit assistant "Quinta da Serra: 3,850 EUR." >/dev/null
n=$(rows commits)
d=$("$TRACT" collapse "$C" --summary "draft" --review --json)
D=$(printf '%s' "$d" | json 'd["draft_id"]')
same "review: nothing committed" "$(rows commits)" "$n"
contains "drafts lists it" "$D" "$("$TRACT" collapse --drafts)"
H2=$("$TRACT" collapse --approve "$D" --summary "Subagent completed: two venues." | tail -n 1)
same "approve commits" "$("$TRACT" log --json -n 1 | json 'd[0]["commit_hash"]')" "$H2"
ex=$("$TRACT" expand --json "${H2:0:10}")
same "expand: only the work since the previous collapse" "$(printf '%s' "$ex" | json 'len(d["commits"])')" 1
same "expand: the child" "$(printf '%s' "$ex" | json 'd["child_tract_id"]')" "$C"
if "$TRACT" collapse --approve "$D" 2>/dev/null; then bad "approved draft is gone"; else ok; fi

TRACT_ID=$C "$TRACT" commit assistant "The p99 latency is fine. Booking confirmed." >/dev/null
d=$("$TRACT" collapse "$C" --review --llm --provider example --json)
D=$(printf '%s' "$d" | json 'd["draft_id"]')
contains "example provider draft" "Subagent completed: " "$(printf '%s' "$d" | json 'd["summary_text"]')"
"$TRACT" collapse --discard "$D" >/dev/null
same "discard removes the draft" "$("$TRACT" collapse --drafts --json)" "[]"
r=$("$TRACT" collapse "$C" --llm --provider example --json)
contains "autonomous commits at once" "Subagent completed: " "$(printf '%s' "$r" | json 'd["summary_text"]')"
same "autonomous: the commit is there" "$(printf '%s' "$r" | json 'd["parent_commit_hash"]')" \
	"$("$TRACT" log --json -n 1 | json 'd[0]["commit_hash"]')"

same "resume: the active root" "$("$TRACT" resume)" "$P"
"$TRACT" session end "Venue booked" --decision "Casa do Rio" >/dev/null
same "session end: inactive" \
	"$("$TRACT" tracts --json | json "[t['is_active'] for t in d if t['tract_id']=='$P'][0]")" False
TRACT_ID=$C "$TRACT" commit user "still going" >/dev/null
same "resume: the running child" "$("$TRACT" resume)" "$C"
same "resume --json" "$("$TRACT" resume --json | json 'd["tract_id"]')" "$C"
same "session commits are pinned" \
	"$(sqlite3 .tract.db "select count(*) from annotations a join commits c on c.commit_hash=a.target_hash where c.tract_id='$P' and c.content_type='session' and upper(a.priority)='PINNED'")" 2

out=$("$TRACT" fsck --json)
same "fsck clean" "$(printf '%s' "$out" | json 'd["ok"]')" True

finish "test_agents_cli"
