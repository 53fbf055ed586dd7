#!/usr/bin/env bash
# build.sh - configure and build tract with meson + ninja.
#
#   scripts/build.sh [release]   build dir "build": the project's default
#                                buildtype (debugoptimized), used by the demo
#                                and the README
#   scripts/build.sh ci          build dir "build-ci": AddressSanitizer +
#                                UndefinedBehaviorSanitizer, warnings are errors
#
# Idempotent: an existing build directory is reconfigured, not recreated, so
# ninja only rebuilds what changed; the BPE tables are fetched once.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

flavour=${1:-release}
case "$flavour" in
release)
	dir=build
	opts=()
	;;
ci)
	dir=build-ci
	# b_lundef=false: the sanitizer runtime lives in the executable, so the
	# dlopen'ed plugins (shared_module) must be allowed undefined symbols.
	opts=('-Db_sanitize=address,undefined' -Db_lundef=false -Dwerror=true)
	;;
-h | --help)
	sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	printf 'usage: %s [release|ci]\n' "$0" >&2
	exit 2
	;;
esac

if [ -f "$dir/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$dir" "${opts[@]}"
else
	meson setup "$dir" "${opts[@]}"
fi
# The exact token counters' tables (tiktoken's o200k_base, cl100k_base) go
# where the build tree looks for them; skipped when already there. Without
# npm or the network the build goes on and the exact-count tests skip.
scripts/fetch-encodings.sh "$dir/data/encodings" ||
	printf 'build: warning: BPE tables not fetched; exact token counts unavailable\n' >&2
ninja -C "$dir"
# The binary form of each table, mapped at the first count of a process
# (parsing the JSON costs ~50 ms per process; mapping ~2 ms). Rebuilt when
# missing or older than its source.
for json in "$dir"/data/encodings/*.json; do
	[ -f "$json" ] || continue
	bin=${json%.json}.bin
	if [ ! -f "$bin" ] || [ "$json" -nt "$bin" ]; then
		"$dir/tools/tract-mkbpe" "$json" "$bin"
	fi
done
printf 'build: %s build ready in %s/\n' "$flavour" "$dir"
