#!/usr/bin/env bash
# mp3prof soak: boot the DEBUG kernel (KASAN, lockdep, kmemleak, UBSAN) in
# QEMU through the harness and run the robustness tests at soak sizes: the
# control file fuzzer with SOAK_FUZZ commands, the process churn with
# SOAK_CHURN processes and the module unload/load loop SOAK_RELOADS times;
# then unload the module and check kmemleak and dmesg.  Prints the figures
# and exits non-zero if a test failed, a leak was reported or dmesg shows
# a kernel problem.
#
# The test programs are built here, statically, from
# tools/testing/selftests/mp3prof, so the patch series need not carry them.
#
# Environment: SOAK_FUZZ (default 1000000), SOAK_CHURN (10000), SOAK_RELOADS
# (100), SOAK_SEED (fuzzer seed, default random), OUT (results directory,
# default $MP3PROF_CACHE/soak-out), VM_TIMEOUT (s, default 7200), VM_MEM,
# and the harness's variables (MP3PROF_CACHE, MP3PROF_SERIES, KDIR).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
. "$ROOT/tooling/harness/lib.sh"

fuzz=${SOAK_FUZZ:-1000000}
churn=${SOAK_CHURN:-10000}
reloads=${SOAK_RELOADS:-100}
seed=${SOAK_SEED:-}
export VM_TIMEOUT=${VM_TIMEOUT:-7200}
out=${OUT:-$CACHE/soak-out}
stage=$CACHE/soak-stage
tests=$ROOT/tools/testing/selftests/mp3prof
t0=$(date +%s)

# The kernel tree provides kselftest_harness.h.
"$HARNESS/prepare.sh"
src=$(src_dir)
[ -f "$src/tools/testing/selftests/kselftest_harness.h" ] ||
	die "no kselftest_harness.h in $src"

say "building the soak programs (static)"
rm -rf "$stage" "$out"
mkdir -p "$stage/src/mp3prof" "$stage/host" "$out"
cp "$src/tools/testing/selftests/kselftest_harness.h" \
	"$src/tools/testing/selftests/kselftest.h" "$stage/src/"
cp "$tests"/*.c "$tests"/*.h "$stage/src/mp3prof/"
for t in fuzz_test churn_test reload_test; do
	gcc -static -Wall -O2 -I"$ROOT/include/uapi" \
		-o "$stage/host/$t" "$stage/src/mp3prof/$t.c" -lpthread
done
cp "$here/guest.sh" "$stage/host/"

say "soak in the debug guest: $fuzz commands, $churn processes, $reloads reloads (VM_TIMEOUT=${VM_TIMEOUT}s)"
cmd="SOAK_FUZZ=$fuzz SOAK_CHURN=$churn SOAK_RELOADS=$reloads SOAK_SEED=$seed bash /host/guest.sh"
rc=0
make -s -C "$ROOT" vm VARIANT=debug CMD="$cmd" DIR="$stage/host" OUT="$out" || rc=$?

fig() { # fig FILE KEY: the value of KEY=N in the last line of FILE mentioning it
	grep -ho "$2=[0-9]*" "$1" 2>/dev/null | tail -n 1 | cut -d= -f2
}
s=$out/soak
commands=$(fig "$s/fuzz.log" commands) accepted=$(fig "$s/fuzz.log" accepted)
fseed=$(fig "$s/fuzz.log" seed) processes=$(fig "$s/churn.log" processes)
exited=$(fig "$s/churn.log" exited_registered) reloaded=$(fig "$s/reload.log" reloads)
leaks=$(grep -c '^unreferenced object' "$s/kmemleak.txt" 2>/dev/null || true)
hits=$(grep -c . "$out/dmesg-hits.txt" 2>/dev/null || true)
failed=$(grep -h '^not ok' "$s"/*.log 2>/dev/null | grep -vc '# SKIP' || true)

echo "mp3prof soak ($(( $(date +%s) - t0 )) s, results in $out):"
echo "  commands fuzzed:     ${commands:-0} (${accepted:-0} accepted, seed ${fseed:-?})"
echo "  processes churned:   ${processes:-0} (${exited:-0} exited registered)"
echo "  module reloads:      ${reloaded:-0}"
echo "  leaks found:         ${leaks:-0} (kmemleak)"
echo "  dmesg problems:      ${hits:-0} lines"
echo "  failed tests:        ${failed:-0}"
echo "  rmmod at the end:    $(cat "$s/rmmod.status" 2>/dev/null || echo '?')"
[ -s "$out/dmesg-hits.txt" ] && sed 's/^/    /' "$out/dmesg-hits.txt" | head -n 40
[ "${leaks:-0}" != 0 ] && head -n 40 "$s/kmemleak.txt" | sed 's/^/    /'

ok=1
[ "$rc" = 0 ] || { echo "FAIL: the guest command failed (status $rc; see $out/output.txt)"; ok=0; }
[ "${failed:-0}" = 0 ] || ok=0
[ "${leaks:-0}" = 0 ] || ok=0
[ "${hits:-0}" = 0 ] || ok=0
[ "${commands:-0}" -ge "$fuzz" ] || { echo "FAIL: fewer commands than asked"; ok=0; }
[ "${processes:-0}" -ge "$churn" ] || { echo "FAIL: fewer processes than asked"; ok=0; }
[ "${reloaded:-0}" -ge "$reloads" ] || { echo "FAIL: fewer reloads than asked"; ok=0; }
if [ "$ok" = 1 ]; then
	echo "soak PASSED"
else
	echo "soak FAILED"
	exit 1
fi
