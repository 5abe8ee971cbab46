#!/usr/bin/env bash
# Build the guest's base initramfs $CACHE/build/VARIANT/initramfs.cpio:
# busybox, bash, /init, the kernel modules, the selftests and tools/mp3prof.
# run-vm.sh appends a small second archive with the run's settings and /host.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:?usage: initramfs.sh debug|release|preempt}
check_variant "$variant"
out=$CACHE/build/$variant
root=$out/initramfs

say "building initramfs ($variant)"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,tmp,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
cp /bin/bash-static "$root/bin/bash"
# kselftest's runner calls "timeout --foreground", which busybox lacks.
rm -f "$root/usr/bin/timeout"
printf '#!/bin/sh\n[ "$1" = --foreground ] && shift\nexec busybox timeout "$@"\n' \
	> "$root/usr/bin/timeout"
chmod 755 "$root/usr/bin/timeout"
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$root/etc/group"
install -m 755 "$HARNESS/init" "$root/init"

find "$out" -path "$root" -prune -o -name '*.ko' -print0 |
	xargs -0r cp -t "$root/lib/modules/"
[ -f "$root/lib/modules/mp3prof.ko" ] || warn "mp3prof.ko was not built"
[ -d "$out/kselftest_install" ] && cp -a "$out/kselftest_install" "$root/kselftest"
[ -d "$out/tools_install" ] && cp -a "$out/tools_install/." "$root/"

"$HARNESS/mkcpio.sh" "$out" "$root" "$out/initramfs.cpio"
