#!/usr/bin/env bash
# fetch-encodings.sh - fetch the tiktoken BPE tables (o200k_base, cl100k_base)
# from the npm package tiktoken@1.0.22, checked against its sha512 integrity.
#
#   scripts/fetch-encodings.sh [DESTDIR [TARBALL]]
#       DESTDIR  where the tables go; default build/data/encodings
#       TARBALL  where the verified package is kept; default
#                DESTDIR/../tiktoken-1.0.22.tgz
#
# The package tarball itself is kept too (same integrity check): the parity
# test (tests/parity) and the tokenizer benchmark (bench/bench_bpe) install
# the real tiktoken from it with no network.
#
# Idempotent: does nothing when both tables are present and valid JSON and
# the kept tarball matches the integrity; a missing table is reinstalled
# from a valid kept tarball without the network.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:-$root/build/data/encodings}
pkg=tiktoken@1.0.22
integrity='sha512-PKvy1rVF1RibfF3JlXBSP0Jrcw2uq3yXdgcEXtKTYn3QJ/cBRBHDnrJ5jHky+MENZ6DIPwNUGWpkVx+7joCpNA=='
encodings=(o200k_base cl100k_base)
keep=${2:-$(dirname "$dest")/tiktoken-1.0.22.tgz}

valid() {
	# A table is valid when it parses and has the three keys the loader reads.
	node -e '
		const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		if (typeof d.pat_str !== "string" || typeof d.bpe_ranks !== "string" ||
		    typeof d.special_tokens !== "object") process.exit(1);
	' "$1" 2>/dev/null
}

sri() {
	printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 | tr -d '\n')"
}

missing=0
for e in "${encodings[@]}"; do
	[ -f "$dest/$e.json" ] && valid "$dest/$e.json" || missing=1
done
have_tgz=0
if [ -f "$keep" ]; then
	# A kept tarball that fails the check (truncated, tampered) goes.
	if [ "$(sri "$keep")" = "$integrity" ]; then
		have_tgz=1
	else
		rm -f "$keep"
	fi
fi
if [ "$missing" = 0 ] && [ "$have_tgz" = 1 ]; then
	printf 'fetch-encodings: tables present in %s\n' "$dest"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "$have_tgz" = 1 ]; then
	tgz=$keep
else
	if ! (cd "$tmp" && npm pack --silent "$pkg" >/dev/null); then
		if [ "$missing" = 0 ]; then
			# The tables are all the library needs; only the parity test
			# and the benchmark's tiktoken comparison go without.
			printf 'fetch-encodings: tables present in %s\n' "$dest"
			printf 'fetch-encodings: warning: %s not fetched; the parity test %s\n' \
				"$pkg" 'and bench_bpe cannot run tiktoken' >&2
			exit 0
		fi
		printf 'fetch-encodings: npm pack %s failed\n' "$pkg" >&2
		exit 1
	fi
	tgz=$(ls "$tmp"/tiktoken-*.tgz)
	got=$(sri "$tgz")
	if [ "$got" != "$integrity" ]; then
		printf 'fetch-encodings: integrity mismatch for %s\n  want %s\n  got  %s\n' \
			"$pkg" "$integrity" "$got" >&2
		exit 1
	fi
	# Write-then-rename, as for the tables below.
	mkdir -p "$(dirname "$keep")"
	cp "$tgz" "$keep.tmp"
	mv "$keep.tmp" "$keep"
	printf 'fetch-encodings: %s kept as %s\n' "$pkg" "$keep"
fi
[ "$missing" = 0 ] && exit 0

members=()
for e in "${encodings[@]}"; do
	members+=("package/encoders/$e.json")
done
tar -xzf "$tgz" -C "$tmp" "${members[@]}"
mkdir -p "$dest"
for e in "${encodings[@]}"; do
	valid "$tmp/package/encoders/$e.json" || {
		printf 'fetch-encodings: %s.json in %s is malformed\n' "$e" "$pkg" >&2
		exit 1
	}
	# Write-then-rename so a concurrent reader never sees a partial table.
	cp "$tmp/package/encoders/$e.json" "$dest/.$e.json.tmp"
	mv "$dest/.$e.json.tmp" "$dest/$e.json"
done
printf 'fetch-encodings: %s tables installed in %s\n' "$pkg" "$dest"
