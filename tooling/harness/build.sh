#!/usr/bin/env bash
# Build VARIANT (debug|release|preempt) out of tree in $CACHE/build/VARIANT:
# kernel (bzImage + modules), uapi headers, the mp3prof selftests (static),
# the optional user tools in tools/mp3prof, and finally the guest initramfs.
# Run prepare.sh first (or set KDIR).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:?usage: build.sh debug|release|preempt}
check_variant "$variant"
src=$(src_dir)
out=$CACHE/build/$variant
jobs=$(nproc)
[ -f "$src/Makefile" ] || die "no kernel tree at $src (run prepare.sh or set KDIR)"
mkdir -p "$CCACHE_DIR"

"$HARNESS/config.sh" "$variant"

say "building kernel ($variant)"
make -s -C "$src" O="$out" "${KMAKE_ARGS[@]}" -j"$jobs" bzImage modules
make -s -C "$src" O="$out" "${KMAKE_ARGS[@]}" -j"$jobs" headers

ksft=$out/kselftest_install
rm -rf "$ksft"
if [ -d "$src/tools/testing/selftests/mp3prof" ]; then
	say "building selftests ($variant)"
	make -s -C "$src/tools/testing/selftests" O="$out" TARGETS=mp3prof \
		"CC=ccache gcc" LDFLAGS=-static \
		KHDR_INCLUDES="-isystem $out/usr/include" \
		KSFT_INSTALL_PATH="$ksft" -j"$jobs" install >/dev/null
else
	warn "$src/tools/testing/selftests/mp3prof does not exist yet; no selftests"
fi

tools=$out/tools_install
rm -rf "$tools"
if [ -f "$src/tools/mp3prof/Makefile" ]; then
	say "building tools/mp3prof ($variant)"
	mkdir -p "$out/tools/mp3prof"
	make -s -C "$src/tools/mp3prof" OUTPUT="$out/tools/mp3prof/" \
		"CC=ccache gcc" LDFLAGS=-static \
		KHDR_INCLUDES="-isystem $out/usr/include" \
		DESTDIR="$tools" prefix=/usr -j"$jobs" install
fi

"$HARNESS/initramfs.sh" "$variant"
