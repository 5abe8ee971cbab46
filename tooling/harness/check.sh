#!/usr/bin/env bash
# make check: prepare + apply the series, build the debug kernel (or
# VARIANT's: VARIANT=preempt make check), boot it and run the mp3prof
# kselftests in the guest (then dmesg/kmemleak/rmmod checks)
# while the static checks (tooling/checks/*.sh) run beside it at low CPU
# priority.  Stdout is TAP-like and ends with exactly one line
# "N passed, N failed".
# CHECKS=GLOB runs only the static checks whose name matches (e.g. CHECKS=none
# skips them all, CHECKS='[1-3]*' runs 10-.. to 39-..).
# MP3PROF_CHURN_COUNT and MP3PROF_RELOAD_COUNT (defaults below, smaller than
# the kselftests' own) and MP3PROF_FUZZ_COUNT size the stress kselftests;
# make soak runs them large.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${VARIANT:-debug}
check_variant "$variant"
pass=0 fail=0 n=0
failures=()
result() { # result 0|1 NAME: print and count one check
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"; pass=$((pass + 1))
	else
		echo "not ok $n - $2"; fail=$((fail + 1)); failures+=("$2")
	fi
}
indent() { sed 's/^/# /'; }
finish() {
	for f in "${failures[@]}"; do echo "# FAILED: $f"; done
	echo "# make check ($variant kernel) took $((SECONDS / 60)) min $((SECONDS % 60)) s"
	echo "$pass passed, $fail failed"
	if [ "$fail" = 0 ]; then exit 0; fi
	exit 1
}

if ! "$HARNESS/prepare.sh"; then
	result 1 "apply patch series"
	finish
fi
src=$(src_dir)

# The guest is the long pole: build and boot it first.
run=$CACHE/run/$variant
gpid=
if "$HARNESS/build.sh" "$variant"; then
	export GUEST_ENV="MP3PROF_CHURN_COUNT=${MP3PROF_CHURN_COUNT:-300}
		MP3PROF_RELOAD_COUNT=${MP3PROF_RELOAD_COUNT:-25}
		${MP3PROF_FUZZ_COUNT:+MP3PROF_FUZZ_COUNT=$MP3PROF_FUZZ_COUNT} ${GUEST_ENV:-}"
	say "guest: booting the $variant kernel, kselftests run while the static checks do (console: $run/console.log)"
	mkdir -p "$CACHE/run"
	"$HARNESS/run-vm.sh" "$variant" selftests > "$CACHE/run/$variant.log" 2>&1 &
	gpid=$!
else
	result 1 "build $variant kernel and selftests"
fi

logs=$CACHE/run/checks
rm -rf "$logs" && mkdir -p "$logs"
for c in "$ROOT"/tooling/checks/[0-9]*.sh; do
	[ -x "$c" ] || continue
	name=$(basename "$c" .sh)
	# shellcheck disable=SC2053
	[[ $name == ${CHECKS:-*} ]] || continue
	say "static check $name"
	t0=$SECONDS
	# nice: the guest's kselftests have timing checks; builds may wait.
	if (cd "$ROOT" && MP3PROF_SRC=$src MP3PROF_CACHE=$CACHE MP3PROF_SERIES=$SERIES \
		MP3PROF_PATCHES=$PATCHES nice -n 15 "$c") > "$logs/$name.log" 2>&1; then
		result 0 "$name ($((SECONDS - t0)) s)"
	else
		result 1 "$name ($((SECONDS - t0)) s)"
		tail -n 40 "$logs/$name.log" | indent
	fi
done
[ -n "$gpid" ] || finish

# Progress while waiting: the kselftest programs' result lines.
say "guest: waiting for the kselftests"
tail -n +1 -F --pid="$gpid" "$run/console.log" 2>/dev/null |
	sed -un 's/^mp3prof-guest: \(\[[0-9.]* s\] \(not \)\?ok [0-9]* \)/==> guest: \1/p' >&2 &
rc=0
wait "$gpid" || rc=$?
wait
out=$run/out
if [ $rc = 124 ]; then
	result 1 "selftests: guest timed out after ${VM_TIMEOUT:-1200} s"
	tail -n 30 "$run/console.log" | indent
	finish
elif [ $rc != 0 ]; then
	result 1 "selftests: the guest did not return results (see $run/console.log)"
	tail -n 5 "$CACHE/run/$variant.log" | indent
	tail -n 30 "$run/console.log" | indent
	finish
fi

if [ -s "$out/tap.txt" ]; then
	cat "$out/tap.txt"
	read -r kpass kfail kskip kprogs < <(awk -f "$HARNESS/tapcount.awk" "$out/tap.txt")
	mapfile -t kfails < <(awk -f "$HARNESS/tapcount.awk" "$out/tap.txt" | sed -n 's/^FAIL //p')
	pass=$((pass + kpass)) fail=$((fail + kfail))
	for f in "${kfails[@]}"; do failures+=("selftest $f"); done
	echo "# kselftest: $kprogs programs, $kpass cases passed ($kskip of them SKIPPED, counted as passed), $kfail failed"
	if [ "$kprogs" = 0 ]; then
		result 1 "selftests: run_kselftest.sh ran no test program"
	fi
else
	result 1 "selftests: no TAP output (tools/testing/selftests/mp3prof missing or not run)"
fi

# The kernel must stay clean: module loads and unloads, no splats, no leaks.
why=()
[ "$(cat "$out/insmod.status" 2>/dev/null)" = 0 ] || why+=("insmod mp3prof.ko failed: $(cat "$out/insmod.status" 2>/dev/null)")
[ "$(cat "$out/rmmod.status" 2>/dev/null)" = 0 ] || why+=("rmmod mp3prof failed: $(cat "$out/rmmod.status" 2>/dev/null)")
[ -s "$out/kmemleak.txt" ] && why+=("kmemleak reports leaks ($out/kmemleak.txt)")
[ -s "$out/dmesg-hits.txt" ] && why+=("suspicious kernel messages ($out/dmesg.txt)")
if [ ${#why[@]} = 0 ]; then
	result 0 "kernel clean after selftests (dmesg, kmemleak, insmod/rmmod)"
else
	result 1 "kernel clean after selftests (dmesg, kmemleak, insmod/rmmod)"
	printf '%s\n' "${why[@]}" | indent
	[ -s "$out/dmesg-hits.txt" ] && head -n 40 "$out/dmesg-hits.txt" | indent
	[ -s "$out/kmemleak.txt" ] && head -n 40 "$out/kmemleak.txt" | indent
fi
finish
