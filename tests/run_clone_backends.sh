#!/usr/bin/env bash
# run_clone_backends.sh - the clone suite's round trips through the other
# backends: SQLite -> LMDB -> SQLite always, SQLite -> PostgreSQL -> SQLite
# when the throwaway server is up (TRACT_TEST_PG_URI, set by scripts/test.sh
# or scripts/pg.sh run). Each round trip gets a fresh LMDB directory or
# PostgreSQL schema ("{}" in the URI).
#   run_clone_backends.sh TEST_CLONE
set -euo pipefail

tmp=$(mktemp -d /tmp/tract-clone-backends.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

uris="lmdb:$tmp/lmdb-{}"
if [ -n "${TRACT_TEST_PG_URI:-}" ]; then
	case "$TRACT_TEST_PG_URI" in
	*\?*) uris="$uris;$TRACT_TEST_PG_URI&schema=clone_{}" ;;
	*) uris="$uris;$TRACT_TEST_PG_URI?schema=clone_{}" ;;
	esac
else
	echo "run_clone_backends: no PostgreSQL server (TRACT_TEST_PG_URI unset): LMDB only" >&2
fi
TRACT_CLONE_TEST_URIS=$uris exec "$1"
