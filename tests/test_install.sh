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

# The BPE tables: installed when the build tree has them; the installed
# library finds them there, and without them falls back to the labelled
# estimate with a one-line warning (never silently).
datadir=$("$meson" introspect "$builddir" --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "datadir"))')
case "$datadir" in /*) ;; *) datadir="$prefix/$datadir" ;; esac
enc="$tmp/root$datadir/tract/encodings"
printf 'hello world' >"$tmp/hello.txt"
if [ -f "$builddir/data/encodings/o200k_base.bin" ]; then
	for f in o200k_base.json o200k_base.bin cl100k_base.json cl100k_base.bin; do
		cmp -s "$builddir/data/encodings/$f" "$enc/$f" || fail "$f not installed in $enc"
	done
	[ -x "$root/bin/tract-mkbpe" ] || fail "tract-mkbpe not installed"
	got=$(TRACT_ENCODINGS_DIR="$enc" "$root/bin/tract" tokens --json "$tmp/hello.txt" 2>"$tmp/err") ||
		fail "tokens with the installed tables: $(cat "$tmp/err")"
	[ ! -s "$tmp/err" ] || fail "tokens with the installed tables warned: $(cat "$tmp/err")"
	echo "$got" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not (d["token_count"] == 2 and d["token_source"] == "tiktoken:o200k_base"))' ||
		fail "installed tables do not count exactly: $got"
	# A .tiktoken rank file alone works too (the pattern is built in).
	mkdir "$tmp/tk"
	python3 - "$builddir/data/encodings/cl100k_base.json" "$tmp/tk/cl100k_base.tiktoken" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
lines = d["bpe_ranks"].split("\n")
out = []
for ln in lines:
    f = ln.split(" ")
    if len(f) < 2:
        continue
    off = int(f[1])
    out += ["%s %d" % (t, off + i) for i, t in enumerate(f[2:])]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
	got=$(TRACT_ENCODINGS_DIR="$tmp/tk" "$root/bin/tract" tokens --encoding cl100k_base "$tmp/hello.txt") ||
		fail "tokens from a .tiktoken file"
	[ "$got" = 2 ] || fail "a .tiktoken file counts $got for 'hello world', want 2"
fi
if [ ! -e "$datadir/tract/encodings" ]; then
	got=$("$root/bin/tract" tokens --json "$tmp/hello.txt" 2>"$tmp/err") || fail "tokens without tables"
	echo "$got" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not (d["token_count"] == 3 and d["token_source"] == "estimate:bytes/4"))' ||
		fail "without tables the estimate is not used: $got"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q 'warning: no o200k_base token table.*fetch-encodings' "$tmp/err" ||
		fail "without tables no one-line warning: $(cat "$tmp/err")"
	"$root/bin/tract" tokens --encoding o200k_base "$tmp/hello.txt" 2>"$tmp/err" &&
		fail "an explicit --encoding o200k_base without tables succeeded"
	grep -q 'no o200k_base token table' "$tmp/err" || fail "no clear error: $(cat "$tmp/err")"
fi
echo "install: 1 passed, 0 failed"
