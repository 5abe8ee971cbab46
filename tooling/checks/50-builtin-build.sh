#!/usr/bin/env bash
# The whole series also builds with CONFIG_MP3PROF=y.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=${MP3PROF_SRC:-$(src_dir)}
out=$CACHE/build/builtin
frag=$(mktemp)
trap 'rm -f "$frag"' EXIT
echo CONFIG_MP3PROF=y >"$frag"
mkdir -p "$CCACHE_DIR"
configure_build "$src" "$out" "$frag"
grep -qx 'CONFIG_MP3PROF=y' "$out/.config" || die "CONFIG_MP3PROF=y not set"
say "building with CONFIG_MP3PROF=y"
make -s -C "$src" O="$out" "${KMAKE_ARGS[@]}" -j"$(nproc)" bzImage
grep -q ' mp3prof_init$\| mp3prof_register$' "$out/System.map" || die "mp3prof not in vmlinux"
echo "CONFIG_MP3PROF=y: built into vmlinux"
