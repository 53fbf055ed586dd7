#!/usr/bin/env bash
# run_clone_backends.sh - the clone suite's round trips through another
# backend: SQLite -> LMDB -> SQLite, or SQLite -> PostgreSQL -> SQLite on
# the throwaway server (TRACT_TEST_PG_URI, set by scripts/test.sh or
# scripts/pg.sh run). Each round trip gets a fresh LMDB directory or
# PostgreSQL schema ("{}" in the URI). Runs only test_other_backends: the
# rest of test_clone runs in the `clone` test.
#   run_clone_backends.sh TEST_CLONE lmdb|postgres
# postgres without TRACT_TEST_PG_URI: exit 77 (skipped), the opt-in skip of
# every postgres test (in CI scripts/test.sh fails before, when it cannot
# start the server).
set -euo pipefail

exe=$1 backend=$2

case $backend in
lmdb)
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/tract-clone-backends.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	uris="lmdb:$tmp/lmdb-{}"
	;;
postgres)
	if [ -z "${TRACT_TEST_PG_URI:-}" ]; then
		echo "TRACT_TEST_PG_URI is not set (no PostgreSQL server): skipped"
		exit 77
	fi
	case "$TRACT_TEST_PG_URI" in
	*\?*) uris="$TRACT_TEST_PG_URI&schema=clone_{}" ;;
	*) uris="$TRACT_TEST_PG_URI?schema=clone_{}" ;;
	esac
	;;
*)
	echo "usage: run_clone_backends.sh TEST_CLONE lmdb|postgres" >&2
	exit 2
	;;
esac
# Not exec: the trap removes the LMDB directory afterwards.
TRACT_CLONE_TEST_URIS=$uris "$exe" test_other_backends
