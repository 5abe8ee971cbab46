#!/bin/bash
# The mp3prof demo, guest side: the two case studies of the classic MP3
# page fault profiler assignment, recorded with mp3prof-monitor --csv.
# Run by tooling/demo/run.sh in the harness guest (cwd /host, results in
# /out/demo).  Sizes are scaled down from the course's (which assumed a
# machine with several GB of RAM) to fit the small guest:
#   DEMO_SCALE    divide the course's memory sizes and accesses by this (4)
#   DEMO_SLEEP_MS sleep after each work iteration (course: 1000)
#   DEMO_NS       case study 2 process counts ("1 5 11 16 20 22")
#   DEMO_SWAP     swap devices case study 2 runs on, one after the other
#                 ("disk zram"); case study 1 runs on the first.  disk: the
#                 virtio disk of run-vm.sh (DISK_SWAP_MB), zram: /dev/zram0
#                 (ZRAM_MB); the guest's init made both swap.
set -euo pipefail

scale=${DEMO_SCALE:-4}
ns=${DEMO_NS:-1 5 11 16 20 22}
swaps=${DEMO_SWAP:-disk zram}
export WORK_ITER_SLEEP_MS=${DEMO_SLEEP_MS:-1000}
out=${DEMO_OUT:-/out/demo}
here=$(cd "$(dirname "$0")" && pwd)
export PATH=$here/bin:$PATH

say() { echo "==> $*"; }
mb() { echo $(( $1 / scale )); }
acc() { echo $(( ($1 + scale - 1) / scale )); }

# The block device of swap KIND (disk or zram).
swap_dev() {
	local d
	case "$1" in
	zram) [ -e /dev/zram0 ] && echo /dev/zram0 && return 0 ;;
	disk)
		for d in /sys/block/vd*; do
			[ "$(cat "$d/serial" 2>/dev/null)" = mp3prof-swap ] &&
				echo "/dev/${d##*/}" && return 0
		done
		;;
	esac
	echo "ERROR: no $1 swap device (DISK_SWAP_MB / ZRAM_MB = 0?)" >&2
	return 1
}

# Swap on KIND's device only.
use_swap() {
	local dev active
	dev=$(swap_dev "$1")
	for active in $(awk 'NR > 1 { print $1 }' /proc/swaps); do
		[ "$active" = "$dev" ] || swapoff "$active"
	done
	grep -q "^$dev " /proc/swaps || swapon "$dev"
	say "swap: $1 ($dev, $(awk -v d="$dev" '$1 == d { print int($3 / 1024) }' /proc/swaps) MiB)"
}

mkdir -p "$out"
if [ ! -e /dev/mp3prof ]; then
	echo "ERROR: /dev/mp3prof missing: mp3prof.ko not loaded" >&2
	exit 1
fi
for kind in $swaps; do
	swap_dev "$kind" >/dev/null
done
first=${swaps%% *}
use_swap "$first"
mem_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
swap_mb=$(awk '/^SwapTotal:/ { print int($2 / 1024) }' /proc/meminfo)
cpus=$(nproc)
{
	echo "mem_mb=$mem_mb"
	echo "swap_mb=$swap_mb"
	echo "swaps='$swaps'"
	echo "cpus=$cpus"
	echo "scale=$scale"
	echo "sleep_ms=$WORK_ITER_SLEEP_MS"
	echo "kernel=$(uname -r)"
} > "$out/env.txt"
say "guest: ${mem_mb} MB RAM, ${swap_mb} MB swap, $cpus CPUs"
say "sizes and accesses are the course's divided by $scale; work sleeps ${WORK_ITER_SLEEP_MS} ms per iteration"

# The guest's CPU time (USER_HZ ticks): busy (user+nice+system+irq+softirq),
# idle and iowait; and swap pages read and written.
guest_counters() {
	awk '$1 == "cpu" { print "busy", $2 + $3 + $4 + $7 + $8; print "idle", $5; print "iowait", $6 }' /proc/stat
	awk '$1 == "pswpin" || $1 == "pswpout"' /proc/vmstat
}

# run NAME SHELL-COMMAND [MONITOR-OPTION...]: record the samples while the
# command runs, and the guest's counters before and after (NAME.guest:
# counter before after).
run() {
	local name=$1 cmd=$2 start end
	shift 2
	guest_counters > "$out/$name.before"
	start=$(date +%s)
	mp3prof-monitor --csv --syscalls "$@" -o "$out/$name.csv" -- sh -c "$cmd" \
		> "$out/$name.log" 2>&1
	end=$(date +%s)
	guest_counters | paste -d ' ' "$out/$name.before" - |
		awk '{ print $1, $2, $4 }' > "$out/$name.guest"
	rm "$out/$name.before"
	echo "$name $((end - start))" >> "$out/durations.txt"
	say "  $name: $(awk -F, '$1 == "sample" || $1 ~ /^[0-9]+$/ { n++ } END { print n + 0 }' "$out/$name.csv") samples in $((end - start)) s; $(grep -c 'lost [0-9]* sample' "$out/$name.log" || true) lost-sample notes"
}

# Case study 1: two random-access processes, then random + local; with a
# record per process per sample (--per-process), which work faulted when.
big=$(mb 1024)
say "case study 1 (course: work 1024 R 50000 + work 1024 R 10000, then work 1024 R 50000 + work 1024 L 10000)"
say "  run 1: work $big R $(acc 50000) & work $big R $(acc 10000)"
run case1-run1 "work $big R $(acc 50000) & work $big R $(acc 10000) & wait" --per-process
say "  run 2: work $big R $(acc 50000) & work $big L $(acc 10000)"
run case1-run2 "work $big R $(acc 50000) & work $big L $(acc 10000) & wait" --per-process

# Case study 2: N copies of a random-access process, on each swap device.
small=$(mb 200)
for kind in $swaps; do
	use_swap "$kind"
	say "case study 2 on $kind swap (course: N x work 200 R 10000): N x work $small R $(acc 10000), N = $ns"
	for n in $ns; do
		say "  N=$n"
		run "case2-$kind-n$n" "for i in \$(seq $n); do work $small R $(acc 10000) & done; wait"
	done
done
free -m > "$out/free.txt"
say "guest done"
