#!/bin/bash
# Runs inside the QEMU guest (make vm VARIANT=bench DIR=... CMD='./guest.sh'),
# in /host with the static ./bench next to it, ./perf (static, built by
# run.sh from the applied tree), ./sysroot (pidstat and the shared
# libraries ldd named, at the same paths) and ./mp3prof-old.ko (the driver
# of an older commit, built for this kernel).  Result lines (R|... and I|...)
# are appended to /out/results.txt, raw notes to /out/bench.log; the
# guest's /out comes back to the host (OUT=).  A failing benchmark is
# reported and the others still run.  Settings can be overridden by
# ./bench.conf (written by run.sh): QUICK=1 makes every benchmark short, for
# trying things out.
set -uo pipefail
cd "$(dirname "$0")" || exit 1

QUICK=0
NS="10 100 1000 10000"	# P1/P4 process counts
P2_MAIN=60		# s at 20 Hz (and 1 Hz beside it)
P2_RATES="100 250 1000"	# then each of these alone ...
P2_OTHER=20		# ... for this many s
P3_MB=64		# MiB touched per run (capped at 60% of MemAvailable)
P3_TRIPLES=60		# not watched / mp3prof / perf triples
P5_SAMPLES=100		# samples per repetition
P5_REPS=5
MON_SECS=5
MON_REPS=5
P6_SESSIONS=10		# P6: sessions of
P6_PER=100		# idle processes each
P7_SECS=10		# P7: spinning thread for this many s at 20 Hz
P7_ROUNDS=5		# exact-read cost: rounds of 3 blocks ...
P7_SAMPLES=40		# ... of this many samples at 100 Hz
P8_NS="1 10 100 1000"	# P8: idle processes watched by each tool
P8_REPS=5
P9_SECS=10		# P9: accuracy run
P9_RATES="1000 100"	# faults per second of the steady faulters
P10_REPS=3		# P10: exit runs
P10_PAGES=2000		# pages faulted before and after the pause
P1OLD_REPS=6		# P1 against the older module: alternating pairs
OLD_LABEL=old
MODULE=/lib/modules/mp3prof.ko
[ -f ./bench.conf ] && . ./bench.conf
if [ "$QUICK" = 1 ]; then
	NS=${QUICK_NS:-"10 100 1000"} P2_MAIN=10 P2_RATES="100 1000" P2_OTHER=5
	P3_MB=32 P3_TRIPLES=8 P5_SAMPLES=40 MON_SECS=2 P7_SECS=3 P7_ROUNDS=2
	P8_NS="10 1000" P8_REPS=2 P9_SECS=4 P10_REPS=1 P1OLD_REPS=2
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

: > "$RES"
say "guest: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
echo "I|quick|$QUICK" >> "$RES"
# Room for 10000 idle processes and their /proc/PID/stat descriptors.
echo 100000 > /proc/sys/kernel/threads-max
echo 131072 > /proc/sys/kernel/pid_max
ulimit -n 65536 2>/dev/null || true

# The module as /init loaded it, with the default parameters (the default
# session at 20 Hz for P1/P4/P5; every other benchmark makes sessions).
if ! grep -q '^mp3prof ' /proc/modules || [ "$(cat /sys/module/mp3prof/parameters/rate)" != 20 ]; then
	rmmod mp3prof 2>/dev/null
	insmod "$MODULE" || { say "insmod $MODULE failed"; exit 1; }
fi

# The other tools.  run.sh checked on the host that they were built and
# copied; here they must also run.
cp -a sysroot/. / 2>/dev/null
PERF=- PIDSTAT=-
if [ -x ./perf ] && ./perf --version >> "$LOG" 2>&1; then
	PERF=$PWD/perf
	echo "I|perf|$(./perf --version) (static, from the applied tree's tools/perf)" >> "$RES"
else
	say "perf does not run here: no perf figures"
	echo "I|perf|not available" >> "$RES"
fi
if [ -x /usr/bin/pidstat ] && /usr/bin/pidstat -V >> "$LOG" 2>&1; then
	PIDSTAT=/usr/bin/pidstat
	echo "I|pidstat|$(/usr/bin/pidstat -V 2>&1 | head -1) (Debian sysstat, with its shared libraries)" >> "$RES"
else
	say "pidstat does not run here: no pidstat figures"
	echo "I|pidstat|not available" >> "$RES"
fi
mkdir -p /sys/fs/cgroup
if mount -t cgroup2 none /sys/fs/cgroup && echo +memory > /sys/fs/cgroup/cgroup.subtree_control; then
	echo "I|cgroup|cgroup v2 at /sys/fs/cgroup, controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)" >> "$RES"
else
	say "no cgroup v2 with the memory controller: no cgroup figures"
	echo "I|cgroup|not available" >> "$RES"
fi
echo "I|perf_event_paranoid|$(cat /proc/sys/kernel/perf_event_paranoid)" >> "$RES"
run info ./bench info

# P2 first: the long run at 20 Hz, with 1 Hz beside it, then the fast rates.
run "P2 20+1 Hz" ./bench rate "$P2_MAIN" 20 1
for r in $P2_RATES; do
	run "P2 $r Hz" ./bench rate "$P2_OTHER" "$r"
done

# P7: CPU time of a spinning thread, and the cost of reading it exactly.
run "P7 cpu" ./bench cpu "$P7_SECS" "$P7_ROUNDS" "$P7_SAMPLES"

# P5: consumer cost of the default session at 20 Hz.
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

# P3: fault path, not watched / mp3prof / perf.
run "P3 faults" ./bench fault "$P3_MB" "$P3_TRIPLES" "$PERF"

# P9: accuracy of 50 ms deltas; P10: exit.
# shellcheck disable=SC2086 # the rates are words
run "P9 accuracy" ./bench accuracy "$P9_SECS" "$PERF" $P9_RATES
run "P10 exit" ./bench exit "$P10_REPS" "$P10_PAGES" "$PERF" "$PIDSTAT"

# P1 + P4: N idle processes, the default session.
for n in $NS; do
	run "P1/P4 N=$n" ./bench procs "$n"
	grep -E '^(MemAvailable|Slab)' /proc/meminfo | tr -s ' ' >> "$LOG"
done

# P1 in the same run against the driver before the exact CPU read (built by
# run.sh from commit OLD_LABEL as a module of this kernel).
if [ -f ./mp3prof-old.ko ]; then
	run "P1 vs $OLD_LABEL" ./bench p1old 1000 "$P1OLD_REPS" ./mp3prof-old.ko "$MODULE" "$OLD_LABEL"
else
	say "no ./mp3prof-old.ko: no same-run P1 comparison"
fi

# P8: N idle processes, mp3prof against perf stat, pidstat and cgroup v2.
for n in $P8_NS; do
	run "P8 N=$n" ./bench compare "$n" "$P8_REPS" "$PERF" "$PIDSTAT"
done

# P6: sessions, 10 x 100 against 1 x 1000 idle processes; an idle session.
run "P6 sessions" ./bench sessions "$P6_SESSIONS" "$P6_PER"

say "done, $fails failed"
exit "$fails"
