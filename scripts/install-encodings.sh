#!/usr/bin/env bash
# install-encodings.sh - meson install step: copy the BPE tables from the
# build tree (SRC) to the installed data directory (REL, relative to the
# prefix; under DESTDIR when meson has one). Installs what is there; warns
# when nothing is.
#   install-encodings.sh SRC REL
set -euo pipefail

src=$1
rel=$2
case "$rel" in
/*) dst=${DESTDIR:+$DESTDIR}$rel ;; # an absolute datadir
*) dst=${MESON_INSTALL_DESTDIR_PREFIX:?run by meson install}/$rel ;;
esac

shopt -s nullglob
files=("$src"/*.json "$src"/*.bin)
if [ "${#files[@]}" -eq 0 ]; then
	printf 'install-encodings: warning: no BPE tables in %s (run scripts/fetch-encodings.sh);\n' "$src" >&2
	printf 'install-encodings: warning: the installed tract will count tokens with the estimate\n' >&2
	exit 0
fi
mkdir -p "$dst"
for f in "${files[@]}"; do
	install -m 0644 "$f" "$dst/$(basename "$f")"
done
printf 'install-encodings: %d file(s) installed in %s\n' "${#files[@]}" "$dst"
