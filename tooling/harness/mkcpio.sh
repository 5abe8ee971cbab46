#!/usr/bin/env bash
# mkcpio.sh BUILD_DIR DIR OUT.cpio: pack DIR (plus /dev/console) as an
# uncompressed initramfs owned by root, with the kernel's own
# usr/gen_initramfs.sh, so no root privileges are needed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:?} dir=${2:?} cpio=${3:?}
src=$(src_dir)
[ -x "$out/usr/gen_init_cpio" ] || die "$out/usr/gen_init_cpio missing (kernel not built?)"
list=$cpio.list
printf 'dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\n' > "$list"
(cd "$out" && sh "$src/usr/gen_initramfs.sh" -o "$cpio" -u squash -g squash "$list" "$dir")
