#!/usr/bin/env bash
# kernel-doc is complete and warning-free, and the uapi header stands alone
# as C90, as the kernel's uapi header test compiles it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=${MP3PROF_SRC:-$(src_dir)}
files=("$src"/drivers/misc/mp3prof/*.[ch] "$src/include/uapi/linux/mp3prof.h")
log=$("$src/scripts/kernel-doc" -none -Wall "${files[@]}" 2>&1)
if [ -n "$log" ]; then
	echo "$log"
	die "kernel-doc warnings"
fi
echo "kernel-doc -Wall: clean on ${#files[@]} files"

hdr=$CACHE/build/uapi-headers
make -s -C "$src" O="$hdr" ARCH=x86_64 headers_install >/dev/null
echo '#include <linux/mp3prof.h>' |
	gcc -std=c90 -Wall -Werror -pedantic-errors -fsyntax-only -isystem "$hdr/usr/include" -x c -
echo "uapi header: compiles alone with -std=c90 -Wall -Werror -pedantic-errors"
