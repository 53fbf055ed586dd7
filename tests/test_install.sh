#!/usr/bin/env bash
# test_install.sh - `meson install` into a scratch DESTDIR, then build the
# README's example as a user would, with `pkg-config --cflags --libs tract`,
# and run it against the installed library and plugin.
#   test_install.sh MESON BUILDDIR SOURCEDIR CC SANITIZE
set -euo pipefail

meson=$1 builddir=$2 srcdir=$3 cc=$4 sanitize=$5
tmp=$(mktemp -d /tmp/tract-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$meson" install -C "$builddir" --no-rebuild --quiet --destdir "$tmp/root" >/dev/null

prefix=$("$meson" introspect "$builddir" --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
libdir=$("$meson" introspect "$builddir" --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "libdir"))')
root="$tmp/root$prefix"
case "$libdir" in /*) lib="$tmp/root$libdir" ;; *) lib="$root/$libdir" ;; esac

fail() { echo "install: FAIL: $*" >&2; exit 1; }
[ -f "$root/include/tract.h" ] || fail "tract.h not installed"
[ -f "$root/include/tract/sys/backend.h" ] || fail "backend.h not installed"
[ -x "$root/bin/tract" ] || fail "tract command not installed"
[ -f "$lib/pkgconfig/tract.pc" ] || fail "tract.pc not installed"
plugin=$(find "$lib" -name tract-backend-sqlite.so | head -n 1)
[ -n "$plugin" ] || fail "sqlite plugin not installed"
[ -f "$(dirname "$plugin")/tract-backend-lmdb.so" ] || fail "lmdb plugin not installed beside it"

# The .pc file names the real prefix; point pkg-config at the DESTDIR copy.
export PKG_CONFIG_PATH="$lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
flags=$(pkg-config --cflags --libs tract) || fail "pkg-config --cflags --libs tract"
extra=()
if [ "$sanitize" != none ]; then
	extra=(-fsanitize="$sanitize")
fi
# shellcheck disable=SC2086
"$cc" "${extra[@]}" -o "$tmp/quickstart" "$srcdir/examples/quickstart.c" $flags ||
	fail "compiling the example against the installed headers"

export LD_LIBRARY_PATH="$lib"
export TRACT_PLUGIN_PATH
TRACT_PLUGIN_PATH=$(dirname "$plugin")
out=$("$tmp/quickstart" "$tmp/store.db") || fail "the example failed: $out"
[ -f "$tmp/store.db" ] || fail "the example wrote no store"
"$root/bin/tract" --db "$tmp/store.db" fsck >/dev/null || fail "fsck of the example's store"
out=$("$tmp/quickstart" "lmdb:$tmp/store.lmdb") || fail "the example failed on lmdb: $out"
"$root/bin/tract" --db "lmdb:$tmp/store.lmdb" fsck >/dev/null ||
	fail "fsck of the example's lmdb store"
echo "install: 1 passed, 0 failed"
