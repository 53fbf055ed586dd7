#!/usr/bin/env bash
# valgrind.sh - valgrind memcheck over the cmocka unit suites, in a build
# without sanitizers (build-valgrind; ASan and valgrind do not mix). Not run
# by CI (too slow; CI keeps ASan + UBSan): run it by hand before a release.
#
#   scripts/valgrind.sh [TEST...]   default: every suite of UNIT below; the
#                                   postgres ones need TRACT_TEST_PG_URI
#                                   (scripts/pg.sh run -- scripts/valgrind.sh)
#                                   and skip without it
#
# On two cores a whole run takes about 35 minutes, half of it the oom suite
# (its allocation sweep, ~18 min); the clone suite ~7 min.
#
# Fails on any memcheck error and on definite leaks (--errors-for-leak-kinds=
# definite); scripts/valgrind.supp holds the suppressions, each documented.
# Left out: the shell-script tests (cli, lmdb-cli, clone-cli, clone-lmdb,
# clone-postgres, install, secrets*, postgres-faults, bpe-parity: they run
# bash, node and the CLI, not a suite), and the crash driver (crash*: it
# kills its writers at random points on a clock, which valgrind's slowdown
# turns into rounds that never get past opening the store), and the lmdb
# suite (test_options_accepted maps a 4 TiB environment, more address space
# than valgrind hands out: mdb_env_open fails with EINVAL; the LMDB backend
# runs under valgrind in conformance-lmdb, core-lmdb, compile-lmdb,
# property-lmdb and fixtures-lmdb).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=build-valgrind

UNIT=(json conformance-sqlite conformance-lmdb conformance-postgres conformance-memory
	sqlite postgres plugin core core-lmdb core-postgres compile compile-lmdb
	compile-postgres property property-lmdb property-postgres fixtures fixtures-lmdb
	fixtures-postgres fsck cycle nul bpe oom clone api-json providers sse-parser)

if [ -f "$dir/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$dir" -Db_sanitize=none -Dbuildtype=debugoptimized >/dev/null
else
	meson setup "$dir" -Db_sanitize=none -Dbuildtype=debugoptimized >/dev/null
fi
# The BPE tables, as scripts/build.sh puts them (copied from another build
# tree when there is one: no network needed).
mkdir -p "$dir/data/encodings"
for other in build-ci build; do
	[ -d "$other/data/encodings" ] && cp -n "$other"/data/encodings/*.json "$dir/data/encodings/" 2>/dev/null
done
scripts/fetch-encodings.sh "$dir/data/encodings" >/dev/null ||
	printf 'valgrind: warning: BPE tables not fetched; the counting tests will fail\n' >&2
ninja -C "$dir"
for json in "$dir"/data/encodings/*.json; do
	[ -f "$json" ] || continue
	bin=${json%.json}.bin
	[ -f "$bin" ] && [ "$bin" -nt "$json" ] || "$dir/tools/tract-mkbpe" "$json" "$bin"
done

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("${UNIT[@]}")
wrap="valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite"
wrap+=" --show-leak-kinds=definite --track-origins=yes --num-callers=30"
wrap+=" --suppressions=$root/scripts/valgrind.supp --gen-suppressions=all"
# The suites' ASAN_OPTIONS mean nothing here; fewer property seeds keep the
# property suites within minutes (each seed still runs 60 operations).
exec env TRACT_PROPERTY_SEEDS="${TRACT_PROPERTY_SEEDS:-8}" \
	meson test -C "$dir" --wrap="$wrap" --timeout-multiplier=20 \
	--num-processes "$(nproc)" --print-errorlogs "${tests[@]}"
