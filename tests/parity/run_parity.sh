#!/usr/bin/env bash
# run_parity.sh - the bpe-parity test: installs the real tiktoken from the
# tarball scripts/fetch-encodings.sh keeps (no network: npm --offline, and
# tiktoken has no dependencies) into a temporary directory, then runs
# test_bpe_parity, which compares tiktoken's counts with tract's.
#
#   run_parity.sh TEST_BPE_PARITY TARBALL COUNTS_JS
#
# Fails (exit 1, with the reason) when node, npm or the tarball is missing:
# scripts/install-deps.sh installs node and npm, scripts/build.sh fetches the
# tarball.
set -euo pipefail

exe=$1 tgz=$2 js=$3

missing() {
	printf 'bpe-parity: FAILED: %s\n' "$1" >&2
	exit 1
}
command -v node >/dev/null || missing 'node is not installed (run scripts/install-deps.sh)'
command -v npm >/dev/null || missing 'npm is not installed (run scripts/install-deps.sh)'
[ -f "$tgz" ] || missing "no $tgz (run scripts/fetch-encodings.sh BUILDDIR/data/encodings)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tract-parity.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# An empty cache of its own: nothing is fetched, and the user's cache is
# left alone.
if ! (cd "$tmp" && npm install --offline --no-audit --no-fund --no-save \
	--no-package-lock --ignore-scripts --loglevel=error --cache "$tmp/.npm" \
	"$tgz" >npm.log 2>&1); then
	cat "$tmp/npm.log" >&2
	printf 'bpe-parity: npm install of %s failed\n' "$tgz" >&2
	exit 1
fi
"$exe" "$tmp/node_modules/tiktoken" "$js" "$tmp"
