#!/usr/bin/env bash
# The users' own command, literally: "make kselftest TARGETS=mp3prof" in the
# applied tree, run here on the build host.  The host kernel has no mp3prof
# (the guest runs the tests for real), so every case must SKIP cleanly and
# none may fail; on a host that has mp3prof loaded, none may fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=${MP3PROF_SRC:-$(src_dir)}
out=$CACHE/build/kselftest-host
mkdir -p "$out" "$CCACHE_DIR"
# "make kselftest" wants a configured tree (for "make headers"), any config
[ -f "$out/.config" ] || make -s -C "$src" O="$out" ARCH=x86_64 tinyconfig >/dev/null
say "make O=$out kselftest TARGETS=mp3prof"
rc=0
make -C "$src" O="$out" ARCH=x86_64 "CC=ccache gcc" TARGETS=mp3prof kselftest \
	>"$out.log" 2>&1 || rc=$?
grep -E '^(not )?ok [0-9]+ selftests:|^# (not )?ok [0-9]+ ' "$out.log" || true
[ $rc = 0 ] || { tail -n 30 "$out.log"; die "make kselftest exited with $rc"; }

progs=$(grep -cE '^(not )?ok [0-9]+ selftests: mp3prof: ' "$out.log" || true)
want=$(grep -c '_test' < <(sed -n 's/^TEST_GEN_PROGS +\?:\?= //p' \
	"$src/tools/testing/selftests/mp3prof/Makefile" | tr ' ' '\n'))
[ "$progs" = "$want" ] || die "make kselftest ran $progs of the $want mp3prof programs"
if grep -E '^(# )?not ok [0-9]+ ' "$out.log"; then
	die "failures above"
fi
if [ -e /proc/mp3prof/status ]; then
	echo "mp3prof is loaded on this host: $progs programs ran, none failed"
	exit 0
fi
# the test cases' lines (a program whose cases all skipped exits 0)
cases=$(grep -cE '^# ok [0-9]+ ' "$out.log" || true)
unskipped=$(grep -E '^# ok [0-9]+ ' "$out.log" | grep -vc '# SKIP' || true)
[ "$cases" -gt 0 ] || die "no test case ran"
[ "$unskipped" = 0 ] || die "$unskipped test cases passed without mp3prof: they test nothing"
echo "make kselftest TARGETS=mp3prof: $progs programs built and run, all $cases cases SKIP without mp3prof"
