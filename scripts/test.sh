#!/usr/bin/env bash
# test.sh - the README's test command: install what is missing, build the CI
# flavour (AddressSanitizer + UndefinedBehaviorSanitizer, -Werror) and run
# the whole suite with `meson test`. Exits with meson's status.
#
# .ci/run calls this script. It needs no stdin and no network beyond the
# Debian mirrors (only when a package is missing).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

builddir=build-ci

# ---------------------------------------------------------------------------
# HOOK: throwaway PostgreSQL for the backend conformance suite.
# No-op for now. The PostgreSQL backend issue starts a throwaway server here
# (initdb in a temp dir, listening on 127.0.0.1 only, stopped on exit) and
# exports its URI for the tests; when PostgreSQL is unavailable the postgres
# tests skip.
# ---------------------------------------------------------------------------
start_postgres_if_available() {
	:
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
# once more as the plain closing line "tests: N passed, N failed" so it is
# the last thing in a long CI log.
count() { awk -v k="$1" 'index($0, k ":") == 1 { n = $NF } END { print n + 0 }' "$log"; }
passed=$(( $(count Ok) + $(count "Expected Fail") ))
failed=$(( $(count Fail) + $(count "Unexpected Pass") + $(count Timeout) ))
skipped=$(count Skipped)
if ! grep -q '^Ok:' "$log"; then
	printf '\nno summary from meson test (exit status %d); see %s\n' "$status" "$log"
	[ "$status" -ne 0 ] || status=1
else
	printf '\ntests: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
fi
exit "$status"
