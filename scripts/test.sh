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

# meson ends with a block of "Ok: N", "Fail: N"... lines; print it once more
# as one line so the result is the last thing in a long CI log.
summary=$(awk '/^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout):/ {
	gsub(/ +/, " "); sub(/ $/, ""); out = out (out == "" ? "" : ", ") $0
} END { print out }' "$log")
if [ -n "$summary" ]; then
	printf '\ntests: %s (meson test exit status %d)\n' "$summary" "$status"
else
	printf '\ntests: no summary from meson test (exit status %d); see %s\n' "$status" "$log"
fi
exit "$status"
