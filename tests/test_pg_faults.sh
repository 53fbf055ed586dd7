#!/usr/bin/env bash
# test_pg_faults.sh - writers keep appending to one branch while the server
# restarts (pg_ctl restart -m fast):
#   - every writer either reconnects and goes on, or reports each failed
#     append with a clear one-line error (and never a password);
#   - the writers make progress after the restart;
#   - afterwards every commit a writer reported is on the branch, the branch
#     is one linear chain, and fsck is clean.
#
#   test_pg_faults.sh PG_WRITER TRACT PG_SH
#
# Needs the throwaway server of scripts/pg.sh (TRACT_TEST_PG_URI and
# TRACT_PG_DIR in the environment); skips (exit 77) without it. It restarts
# that server, so meson runs it alone.
set -euo pipefail

writer=$1
tract=$2
pgsh=$3
writers=${TRACT_PG_FAULT_WRITERS:-4}
appends=${TRACT_PG_FAULT_APPENDS:-300}

if [ -z "${TRACT_TEST_PG_URI:-}" ] || [ -z "${TRACT_PG_DIR:-}" ]; then
	echo "TRACT_TEST_PG_URI / TRACT_PG_DIR not set (no throwaway PostgreSQL server): skipped"
	exit 77
fi

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

case "$TRACT_TEST_PG_URI" in
*\?*) sep='&' ;;
*) sep='?' ;;
esac
schema="tract_faults_$$"
secret="FaultS3cretPw"
# trust authentication ignores the password: it is there to be hidden.
uri="${TRACT_TEST_PG_URI}${sep}schema=${schema}&password=${secret}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tract-pgfaults.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	"$writer" drop "$TRACT_TEST_PG_URI" "$schema" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

id=$("$tract" --db "$uri" init --name faults) || fail "init"
"$tract" --db "$uri" --tract "$id" commit instruction "Keep going through restarts." \
	>/dev/null || fail "first commit"

for w in $(seq 1 "$writers"); do
	"$writer" append "$uri" "$id" "$appends" "writer $w" >"$tmp/w$w.out" 2>"$tmp/w$w.err" &
	pids+=("$!")
done

# Restart once the writers are well under way.
reported() { cat "$tmp"/w*.out | wc -l; }
for _ in $(seq 1 600); do
	[ "$(reported)" -ge $((writers * 20)) ] && break
	sleep 0.1
done
before=$(reported)
[ "$before" -ge $((writers * 20)) ] || fail "the writers did not get going ($before commits)"
bash "$pgsh" restart "$TRACT_PG_DIR" || fail "restart"
restarted=$(reported)
printf 'server restarted after %d commits\n' "$before"

statuses=()
for p in "${pids[@]}"; do
	set +e
	wait "$p"
	statuses+=("$?")
	set -e
done
pids=()
after=$(reported)
errors=$(cat "$tmp"/w*.err | grep -c '^error: ' || true)
printf 'writers exited with: %s; %d commits reported in all, %d after the restart; %d failed appends\n' \
	"${statuses[*]}" "$after" "$((after - restarted))" "$errors"

for w in $(seq 1 "$writers"); do
	s=${statuses[$((w - 1))]}
	# 0: went on to the end; 2: gave up after failing repeatedly, each
	# failure reported. Anything else is a crash.
	[ "$s" -eq 0 ] || [ "$s" -eq 2 ] || {
		cat "$tmp/w$w.err" >&2
		fail "writer $w exited with status $s"
	}
	grep -q '^done: \|^giving up' "$tmp/w$w.err" || fail "writer $w did not finish cleanly"
done
[ "$after" -gt "$restarted" ] || fail "no writer made progress after the restart"
if grep -q "$secret" "$tmp"/w*.err "$tmp"/w*.out; then
	fail "a password appears in the output"
fi
# Every failure is one clear line naming what went wrong.
if grep '^error: ' "$tmp"/w*.err | grep -v -q 'connection\|server\|postgres'; then
	grep '^error: ' "$tmp"/w*.err | grep -v 'connection\|server\|postgres' >&2
	fail "an unclear error"
fi
{ grep -h '^error: ' "$tmp"/w*.err || true; } | sort | uniq -c | sort -rn | head -n 5

"$writer" verify "$uri" "$id" "$tmp"/w*.out || fail "verify"
echo "ok"
