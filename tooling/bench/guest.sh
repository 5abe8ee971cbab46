#!/bin/bash
# Runs inside the QEMU guest (make vm DIR=... CMD='./guest.sh'), in /host
# with the static ./bench next to it.  Result lines (R|... and I|...) are
# appended to /out/results.txt, raw notes to /out/bench.log; the guest's /out
# comes back to the host (OUT=).  A failing benchmark is reported and the
# others still run.  Settings can be overridden by ./bench.conf (written by
# run.sh): QUICK=1 makes every benchmark short, for trying things out.
set -uo pipefail
cd "$(dirname "$0")" || exit 1

QUICK=0
NS="10 100 1000 10000"	# P1/P4 process counts
P2_MAIN=60		# s at the default 20 Hz
P2_RATES="10 25 50 100 250"
P2_OTHER=20		# s at each other rate
P3_MB=256		# MiB touched per run (capped at 60% of MemAvailable)
P3_REPS=15		# A/B pairs
P5_SAMPLES=100		# samples per repetition
P5_REPS=5
MON_SECS=5
MON_REPS=5
P6_SESSIONS=10		# P6: sessions of
P6_PER=100		# idle processes each
MODULE=/lib/modules/mp3prof.ko
[ -f ./bench.conf ] && . ./bench.conf
if [ "$QUICK" = 1 ]; then
	NS=${QUICK_NS:-"10 100 1000"} P2_MAIN=10 P2_RATES="50 250" P2_OTHER=5
	P3_MB=64 P3_REPS=5 P5_SAMPLES=40 MON_SECS=2
fi

RES=/out/results.txt
LOG=/out/bench.log
fails=0

say() { echo "==> $*" | tee -a "$LOG"; }

# run NAME CMD...: run one benchmark, keep going if it fails.
run() {
	local name=$1 rc
	shift
	say "$name: $*"
	"$@" 2> >(tee -a "$LOG" >&2) | tee -a "$RES"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ]; then
		say "$name FAILED (status $rc)"
		echo "F|$name|$*|status $rc" >> "$RES"
		fails=$((fails + 1))
	fi
}

# reload [PARAM=VALUE...]: reload the module with these parameters.
reload() {
	if grep -q '^mp3prof ' /proc/modules; then
		rmmod mp3prof || { say "rmmod mp3prof failed"; return 1; }
	fi
	insmod "$MODULE" "$@" || { say "insmod $MODULE $* failed"; return 1; }
	say "module loaded: rate=$(cat /sys/module/mp3prof/parameters/rate)" \
		"buffer_pages=$(cat /sys/module/mp3prof/parameters/buffer_pages)"
}

: > "$RES"
say "guest: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
echo "I|quick|$QUICK" >> "$RES"
# Room for 10000 idle processes and their /proc/PID/stat descriptors.
echo 100000 > /proc/sys/kernel/threads-max
echo 131072 > /proc/sys/kernel/pid_max
ulimit -n 65536 2>/dev/null || true

# The module as /init loaded it, with the default parameters.
if ! grep -q '^mp3prof ' /proc/modules || [ "$(cat /sys/module/mp3prof/parameters/rate)" != 20 ]; then
	reload || exit 1
fi
run info ./bench info

# P2 first at the default rate: the long run.
run "P2 20 Hz" ./bench rate "$P2_MAIN" 20

# P5: consumer cost at the default rate.
run "P5 follow" ./bench follow "$P5_SAMPLES" "$P5_REPS"
MON=$(command -v mp3prof-monitor || true)
if [ -n "$MON" ]; then
	echo "I|monitor|$MON (installed by the harness from the applied tree)" >> "$RES"
elif [ -x ./mp3prof-monitor ]; then
	MON=$PWD/mp3prof-monitor
	echo "I|monitor|built by run.sh from the working tree's tools/mp3prof (not in the applied series)" >> "$RES"
fi
if [ -n "$MON" ] && "$MON" --help 2>&1 | grep -q -- --syscalls; then
	run "P5 monitor" ./bench monitor "$MON" "$MON_SECS" "$MON_REPS"
else
	say "P5 monitor: no mp3prof-monitor with --syscalls; skipped"
	echo "I|monitor|not available" >> "$RES"
fi

# P3: fault path, registered vs not.
run "P3 faults" ./bench fault "$P3_MB" "$P3_REPS"

# P1 + P4: N idle processes.
for n in $NS; do
	run "P1/P4 N=$n" ./bench procs "$n"
	grep -E '^(MemAvailable|Slab)' /proc/meminfo | tr -s ' ' >> "$LOG"
done

# P6: sessions, 10 x 100 against 1 x 1000 idle processes; an idle session.
run "P6 sessions" ./bench sessions "$P6_SESSIONS" "$P6_PER"

# P2 at the other rates, reloading the module each time.
for r in $P2_RATES; do
	reload rate="$r" || { fails=$((fails + 1)); continue; }
	run "P2 $r Hz" ./bench rate "$P2_OTHER" "$r"
done
reload || true

say "done, $fails failed"
exit "$fails"
