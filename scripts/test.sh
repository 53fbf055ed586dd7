#!/usr/bin/env bash
# test.sh - the README's test command: install what is missing, build the CI
# flavour (AddressSanitizer + UndefinedBehaviorSanitizer, -Werror) and run
# the whole suite with `meson test`, then the fuzz targets for a bounded time
# (scripts/fuzz.sh). Exits with meson's status, else the fuzz run's.
#
# .ci/run calls this script. It needs no stdin and no network beyond the
# Debian mirrors (only when a package is missing).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

builddir=build-ci

# ---------------------------------------------------------------------------
# A throwaway PostgreSQL for the postgres backend's tests: scripts/pg.sh
# starts one (initdb in a temporary directory, 127.0.0.1 and a free port, run
# as the unprivileged `postgres` user when we are root) and exports its URI
# (TRACT_TEST_PG_URI) and directory (TRACT_PG_DIR) for meson test; it is
# stopped and removed on exit. Outside CI, without PostgreSQL binaries the
# postgres tests skip (exit 77: the only skip the suite allows, a user's
# choice); in CI (CI set, as `CI=true bash .ci/run` runs) a server that
# cannot be started fails the run, and so does, anywhere, one that is there
# but does not start.
# ---------------------------------------------------------------------------
pg_dir=
stop_postgres() {
	if [ -n "$pg_dir" ]; then
		bash scripts/pg.sh stop "$pg_dir" || rm -rf "$pg_dir"
	fi
}
start_postgres_if_available() {
	local env status=0
	pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/tract-pg.XXXXXX")
	trap stop_postgres EXIT
	env=$(bash scripts/pg.sh start "$pg_dir") || status=$?
	if [ "$status" -eq 3 ]; then
		rm -rf "$pg_dir"
		pg_dir=
		if [ -n "${CI:-}" ]; then
			printf 'test: CI: the throwaway PostgreSQL server cannot be started %s\n' \
				'(see scripts/pg.sh above); the postgres tests must run in CI' >&2
			exit 1
		fi
		printf 'test: no PostgreSQL server here; the postgres tests skip\n'
		return 0
	fi
	if [ "$status" -ne 0 ]; then
		printf 'test: the throwaway PostgreSQL server did not start\n' >&2
		exit 1
	fi
	eval "$env"
	printf 'test: throwaway PostgreSQL on %s\n' "${TRACT_TEST_PG_URI#*@}"
}

bash scripts/install-deps.sh
bash scripts/build.sh ci
start_postgres_if_available

log="$builddir/meson-logs/test-output.txt"
set +e
meson test -C "$builddir" --print-errorlogs --num-processes 2 </dev/null 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# meson ends with a block of "Ok: N", "Fail: N"... lines; print the result
# once more as the plain closing line "tests: N passed, N failed, N skipped"
# so it is the last thing in a long CI log. Skipped counts the test programs
# meson reports skipped (exit 77) and the cmocka tests skipped inside a
# passing program (cmocka's "[  SKIPPED ] N test(s)" line, in meson's full
# log), each named above the closing line.
count() { awk -v k="$1" 'index($0, k ":") == 1 { n = $NF } END { print n + 0 }' "$log"; }
passed=$(( $(count Ok) + $(count "Expected Fail") ))
failed=$(( $(count Fail) + $(count "Unexpected Pass") + $(count Timeout) ))
skipped=$(count Skipped)
testlog="$builddir/meson-logs/testlog.txt"
inner=0
if [ -f "$testlog" ]; then
	inner=$(awk '/^\[  SKIPPED \] [0-9]+ test\(s\)/ { n += $4 } END { print n + 0 }' "$testlog")
fi
if ! grep -q '^Ok:' "$log"; then
	printf '\nno summary from meson test (exit status %d); see %s\n' "$status" "$log"
	[ "$status" -ne 0 ] || status=1
else
	printf '\n'
	if [ "$skipped" -gt 0 ]; then
		printf 'skipped test programs:\n'
		grep -E '^ *[0-9]+/[0-9]+ .* SKIP ' "$log" || true
	fi
	if [ "$inner" -gt 0 ]; then
		printf 'cmocka tests skipped inside passing programs (see %s):\n' "$testlog"
		# "program: test", once each (cmocka names a skipped test twice).
		awk '/^test: / { prog = $NF }
			/^\[  SKIPPED \] [A-Za-z_]/ && !seen[prog, $4]++ { print "  " prog ": " $4 }' \
			"$testlog"
	fi
	printf 'tests: %d passed, %d failed, %d skipped\n' "$passed" "$failed" \
		"$((skipped + inner))"
fi
# The fuzz targets, each for a bounded time (scripts/fuzz.sh; TRACT_FUZZ_SECONDS
# per target, default 15: with the clang build about 3 minutes on 2 cores):
# a crash fails the run, after the summary above.
fuzz_status=0
bash scripts/fuzz.sh "${TRACT_FUZZ_SECONDS:-15}" </dev/null || fuzz_status=$?
[ "$status" -ne 0 ] || status=$fuzz_status
exit "$status"
