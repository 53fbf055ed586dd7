#!/usr/bin/env bash
# fetch-encodings.sh - fetch the tiktoken BPE tables (o200k_base, cl100k_base)
# from the npm package tiktoken@1.0.22, checked against its sha512 integrity.
#
#   scripts/fetch-encodings.sh [DESTDIR]   default: build/data/encodings
#
# Idempotent: does nothing when both tables are present and valid JSON.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:-$root/build/data/encodings}
pkg=tiktoken@1.0.22
integrity='sha512-PKvy1rVF1RibfF3JlXBSP0Jrcw2uq3yXdgcEXtKTYn3QJ/cBRBHDnrJ5jHky+MENZ6DIPwNUGWpkVx+7joCpNA=='
encodings=(o200k_base cl100k_base)

valid() {
	# A table is valid when it parses and has the three keys the loader reads.
	node -e '
		const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		if (typeof d.pat_str !== "string" || typeof d.bpe_ranks !== "string" ||
		    typeof d.special_tokens !== "object") process.exit(1);
	' "$1" 2>/dev/null
}

missing=0
for e in "${encodings[@]}"; do
	[ -f "$dest/$e.json" ] && valid "$dest/$e.json" || missing=1
done
if [ "$missing" = 0 ]; then
	printf 'fetch-encodings: tables present in %s\n' "$dest"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
tgz=$(ls "$tmp"/tiktoken-*.tgz)
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 | tr -d '\n')"
if [ "$got" != "$integrity" ]; then
	printf 'fetch-encodings: integrity mismatch for %s\n  want %s\n  got  %s\n' \
		"$pkg" "$integrity" "$got" >&2
	exit 1
fi
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
