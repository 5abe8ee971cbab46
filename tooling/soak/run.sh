#!/usr/bin/env bash
# mp3prof soak: boot each kernel of SOAK_VARIANTS (default "debug preempt":
# both have KASAN, lockdep, kmemleak, UBSAN; preempt is also PREEMPT, HZ=100
# and 4 vCPUs) in QEMU through the harness and run the robustness tests at
# soak sizes: the control file fuzzer, the process churn and the module
# unload/load loop; then unload the module and check kmemleak and dmesg.
# Prints the figures of each pass and exits non-zero if a test failed, a
# leak was reported or dmesg shows a kernel problem in any of them.
#
# The test programs are built here, statically, from
# tools/testing/selftests/mp3prof, so the patch series need not carry them.
#
# Sizes (commands fuzzed, processes churned, module reloads): debug
# 1000000/10000/100, preempt 250000/2500/25 (a quarter: 4 vCPUs on the
# build machine's cores are slower, and the debug pass already runs the
# full sizes).  SOAK_FUZZ, SOAK_CHURN, SOAK_RELOADS set them for every
# variant.
# Environment: SOAK_VARIANTS, the sizes above, SOAK_SEED (fuzzer seed,
# default random), OUT (results directory, default $MP3PROF_CACHE/soak-out,
# one subdirectory per variant), VM_TIMEOUT (s per pass, default 7200),
# VM_MEM, and the harness's variables (MP3PROF_CACHE, MP3PROF_SERIES, KDIR).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
. "$ROOT/tooling/harness/lib.sh"

variants=${SOAK_VARIANTS:-debug preempt}
seed=${SOAK_SEED:-}
export VM_TIMEOUT=${VM_TIMEOUT:-7200}
out=${OUT:-$CACHE/soak-out}
stage=$CACHE/soak-stage
tests=$ROOT/tools/testing/selftests/mp3prof
t0=$(date +%s)
for v in $variants; do check_variant "$v"; done

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

fig() { # fig FILE KEY: the value of KEY=N in the last line of FILE mentioning it
	grep -ho "$2=[0-9]*" "$1" 2>/dev/null | tail -n 1 | cut -d= -f2
}

# soak_pass VARIANT: one guest run at the variant's sizes, its figures;
# returns non-zero if anything failed.
soak_pass() {
	local v=$1 fuzz churn reloads vout rc=0 ok=1 p0
	case "$v" in
	preempt) fuzz=250000 churn=2500 reloads=25 ;;
	*) fuzz=1000000 churn=10000 reloads=100 ;;
	esac
	fuzz=${SOAK_FUZZ:-$fuzz} churn=${SOAK_CHURN:-$churn} reloads=${SOAK_RELOADS:-$reloads}
	vout=$out/$v
	p0=$(date +%s)
	say "soak in the $v guest: $fuzz commands, $churn processes, $reloads reloads (VM_TIMEOUT=${VM_TIMEOUT}s)"
	local cmd="SOAK_FUZZ=$fuzz SOAK_CHURN=$churn SOAK_RELOADS=$reloads SOAK_SEED=$seed bash /host/guest.sh"
	make -s -C "$ROOT" vm VARIANT="$v" CMD="$cmd" DIR="$stage/host" OUT="$vout" || rc=$?

	local s=$vout/soak commands accepted fseed processes exited reloaded leaks hits failed
	commands=$(fig "$s/fuzz.log" commands) accepted=$(fig "$s/fuzz.log" accepted)
	fseed=$(fig "$s/fuzz.log" seed) processes=$(fig "$s/churn.log" processes)
	exited=$(fig "$s/churn.log" exited_registered) reloaded=$(fig "$s/reload.log" reloads)
	leaks=$(grep -c '^unreferenced object' "$s/kmemleak.txt" 2>/dev/null || true)
	hits=$(grep -c . "$vout/dmesg-hits.txt" 2>/dev/null || true)
	failed=$(grep -h '^not ok' "$s"/*.log 2>/dev/null | grep -vc '# SKIP' || true)

	echo "mp3prof soak, $v kernel ($(( $(date +%s) - p0 )) s, results in $vout):"
	echo "  guest:               $(sed -n 's/^cpus=/CPUs /p' "$vout/guest-info.txt" 2>/dev/null || true), $(sed -n 's/^version=//p' "$vout/guest-info.txt" 2>/dev/null || true)"
	echo "  commands fuzzed:     ${commands:-0} (${accepted:-0} accepted, seed ${fseed:-?})"
	echo "  processes churned:   ${processes:-0} (${exited:-0} exited registered)"
	echo "  module reloads:      ${reloaded:-0}"
	echo "  leaks found:         ${leaks:-0} (kmemleak)"
	echo "  dmesg problems:      ${hits:-0} lines"
	echo "  failed tests:        ${failed:-0}"
	echo "  rmmod at the end:    $(cat "$s/rmmod.status" 2>/dev/null || echo '?')"
	[ -s "$vout/dmesg-hits.txt" ] && sed 's/^/    /' "$vout/dmesg-hits.txt" | head -n 40
	[ "${leaks:-0}" != 0 ] && head -n 40 "$s/kmemleak.txt" | sed 's/^/    /'
	[ "${failed:-0}" != 0 ] && grep -h '^not ok\|^# .*:[0-9]*:' "$s"/*.log | head -n 20 | sed 's/^/    /'

	[ "$rc" = 0 ] || { echo "FAIL ($v): the guest command failed (status $rc; see $vout/output.txt)"; ok=0; }
	[ "${failed:-0}" = 0 ] || ok=0
	[ "${leaks:-0}" = 0 ] || ok=0
	[ "${hits:-0}" = 0 ] || ok=0
	[ "${commands:-0}" -ge "$fuzz" ] || { echo "FAIL ($v): fewer commands than asked"; ok=0; }
	[ "${processes:-0}" -ge "$churn" ] || { echo "FAIL ($v): fewer processes than asked"; ok=0; }
	[ "${reloaded:-0}" -ge "$reloads" ] || { echo "FAIL ($v): fewer reloads than asked"; ok=0; }
	[ "$ok" = 1 ]
}

passed=() failed=()
for v in $variants; do
	if soak_pass "$v"; then passed+=("$v"); else failed+=("$v"); fi
done
echo "mp3prof soak: $(( $(date +%s) - t0 )) s in all; passed: ${passed[*]:-none}; failed: ${failed[*]:-none}"
if [ ${#failed[@]} = 0 ]; then
	echo "soak PASSED"
else
	echo "soak FAILED"
	exit 1
fi
