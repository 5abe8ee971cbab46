#!/usr/bin/env bash
# make demo: boot the release kernel in QEMU with little RAM, a swap disk
# and zram swap, run the two case studies of the classic MP3 page fault profiler assignment
# (tooling/demo/guest.sh) with mp3prof-monitor recording, then turn the CSVs
# into tables and PNG plots on the host.
#
# Environment:
#   OUT            output directory (default $MP3PROF_CACHE/demo-out)
#   VM_MEM         guest RAM in MiB (512)
#   DEMO_SWAP      swap devices case study 2 runs on, one after the other
#                  ("disk zram"; "disk" or "zram" for one); case study 1
#                  runs on the first
#   DISK_SWAP_MB   size of the swap disk, MiB (1536 if DEMO_SWAP has disk)
#   ZRAM_MB        zram swap in the guest, MiB (1536 if DEMO_SWAP has zram)
#   VM_TIMEOUT     guest timeout, s (1800)
#   DEMO_SCALE     course sizes and accesses divided by this (4)
#   DEMO_SLEEP_MS  work's sleep per iteration, ms (1000, as in the course)
#   DEMO_NS        case study 2 process counts ("1 5 11 16 20 22")
#   DEMO_NO_BUILD=1 use the release kernel already built in the cache
#   DEMO_SKIP_VM=1 only redo the tables and plots from $OUT/guest
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tooling/harness/lib.sh
. "$here/../harness/lib.sh"

out=${OUT:-$CACHE/demo-out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$CACHE/demo-stage
export DEMO_SWAP=${DEMO_SWAP:-disk zram}
swap_mb() { case " $DEMO_SWAP " in *" $1 "*) echo 1536 ;; *) echo 0 ;; esac; }
for kind in $DEMO_SWAP; do
	case "$kind" in
	disk|zram) ;;
	*) die "DEMO_SWAP: unknown swap '$kind' (use disk and/or zram)" ;;
	esac
done
export VM_MEM=${VM_MEM:-512} VM_TIMEOUT=${VM_TIMEOUT:-2400}
export DISK_SWAP_MB=${DISK_SWAP_MB:-$(swap_mb disk)} ZRAM_MB=${ZRAM_MB:-$(swap_mb zram)}
export DEMO_SCALE=${DEMO_SCALE:-4} DEMO_SLEEP_MS=${DEMO_SLEEP_MS:-1000}
export DEMO_NS=${DEMO_NS:-1 5 11 16 20 22}
command -v gnuplot >/dev/null || die "gnuplot is missing (make deps installs gnuplot-nox)"
t0=$(date +%s)

if [ "${DEMO_SKIP_VM:-0}" != 1 ]; then
	say "building tools/mp3prof (static) for the guest"
	rm -rf "$stage"
	mkdir -p "$stage/build" "$stage/host/bin"
	make -s -C "$ROOT/tools/mp3prof" OUTPUT="$stage/build/" LDFLAGS=-static
	cp "$stage/build/mp3prof-monitor" "$stage/build/work" "$stage/host/bin/"
	cp "$here/guest.sh" "$stage/host/"

	say "running the demo in a release guest: ${VM_MEM} MiB RAM, swap: ${DISK_SWAP_MB} MiB disk, ${ZRAM_MB} MiB zram; case study 2 on: $DEMO_SWAP"
	say "course sizes / $DEMO_SCALE, ${DEMO_SLEEP_MS} ms sleep per iteration; this takes about 20 minutes under TCG (disk swap is the slow part)"
	rm -rf "$out/guest"
	# The guest passes these through its command line.
	cmd="DEMO_SCALE=$DEMO_SCALE DEMO_SLEEP_MS=$DEMO_SLEEP_MS DEMO_NS='$DEMO_NS' DEMO_SWAP='$DEMO_SWAP' bash /host/guest.sh"
	# What "make vm VARIANT=release" does; DEMO_NO_BUILD=1 reuses the
	# release kernel already built in the cache.
	if [ "${DEMO_NO_BUILD:-0}" != 1 ]; then
		"$HARNESS/prepare.sh"
		"$HARNESS/build.sh" release
	fi
	DIR="$stage/host" OUT="$out/guest" "$HARNESS/run-vm.sh" release cmd "$cmd"
fi

g=$out/guest/demo
[ -f "$g/case1-run1.csv" ] || die "no results in $g (see $out/guest/output.txt)"
# Guest facts written by guest.sh: mem_mb swap_mb swaps cpus scale sleep_ms kernel
mem_mb="?" swap_mb="?" swaps=$DEMO_SWAP cpus=1 scale=$DEMO_SCALE sleep_ms="?" kernel="?"
# shellcheck disable=SC1091
. "$g/env.txt"
say "making tables and plots in $out"

# Case study 1 ran with --per-process (kind,seq,jiffies,time_ns,pid,ppid,
# flags,min_flt,maj_flt,cpu_ns,...).  case1-runX.dat: time (s) since the
# first sample, accumulated minor+major faults, accumulated major faults
# (the sample rows).  case1-runX-pK.dat, one per process of the tree in
# the order of their pids (the shell, then the two works in the order it
# started them): time (s), that process's accumulated faults, major faults.
for r in 1 2; do
	rm -f "$out/case1-run$r"-p*.dat
	awk -F, -v dat="$out/case1-run$r" '$1 == "sample" || $1 == "proc" {
		if (t0 == "") t0 = $4
		t = ($4 - t0) / 1e9
	}
	$1 == "sample" {
		all += $8 + $9; maj += $9
		printf "%.3f %d %d\n", t, all, maj > (dat ".dat")
	}
	$1 == "proc" {
		pall[$5] += $8 + $9; pmaj[$5] += $9
		line[$5] = line[$5] sprintf("%.3f %d %d\n", t, pall[$5], pmaj[$5])
	}
	END {
		n = 0
		for (p in line) pids[++n] = p + 0
		for (i = 1; i <= n; i++)	# a few pids: insertion sort
			for (j = i; j > 1 && pids[j - 1] > pids[j]; j--) {
				x = pids[j]; pids[j] = pids[j - 1]; pids[j - 1] = x
			}
		for (i = 1; i <= n; i++) {
			f = dat "-p" i ".dat"
			printf "# pid %d\n%s", pids[i], line[pids[i]] > f
			close(f)
		}
	}' "$g/case1-run$r.csv"
done
# gnuplot plot command for the per-process panel of case 1 run R, whose
# processes are the shell, work A, work B.
case1_procs_panel() { # R A B
	local i f sep= cmd="plot" names=("sh -c" "$2" "$3")
	for i in 1 2 3; do
		f=$out/case1-run$1-p$i.dat
		[ -f "$f" ] || continue
		cmd+="$sep '$f' using 1:2 with lines lw 2 lc $i title '${names[$((i - 1))]} (pid $(sed -n 's/^# pid //p' "$f"))'"
		cmd+=", '$f' using 1:3 with lines dt 2 lc $i notitle"
		sep=,
	done
	echo "$cmd"
}

# case2-KIND.dat, one per swap device: N, CPU utilisation of the N
# processes (% of the guest's CPUs), major faults per s, elapsed s, minor
# faults, major faults (all from the samples); the guest's CPU busy and
# iowait (% of its CPU time, /proc/stat) and the swap pages read and written
# (/proc/vmstat) over the run.  Elapsed time: first to last sample plus the
# interval the first sample covers.
case2_dat() { # KIND
	local n
	echo "# N cpu_util_pct maj_flt_per_s elapsed_s min_flt maj_flt guest_busy_pct guest_iowait_pct pswpin pswpout"
	for n in $DEMO_NS; do
		awk -F, -v n="$n" -v cpus="$cpus" -v guest="$g/case2-$1-n$n.guest" 'NR > 1 {
			if (first == "") first = $3
			if (NR == 3) period = $3 - first
			last = $3; cpu += $6; min += $4; maj += $5
		} END {
			while ((getline l < guest) > 0) {
				split(l, f, " ")
				d[f[1]] = f[3] - f[2]
			}
			tot = d["busy"] + d["idle"] + d["iowait"]
			if (tot <= 0) tot = 1
			el = (last - first + period) / 1e9
			if (el <= 0) el = 1
			printf "%d %.1f %.1f %.1f %d %d %.1f %.1f %d %d\n", n,
				100 * cpu / 1e9 / el / cpus, maj / el, el, min, maj,
				100 * d["busy"] / tot, 100 * d["iowait"] / tot,
				d["pswpin"], d["pswpout"]
		}' "$g/case2-$1-n$n.csv"
	done
}
for kind in $swaps; do
	case2_dat "$kind" > "$out/case2-$kind.dat"
done
# One scale for the major fault rate in every panel.
maj_max=$(for kind in $swaps; do cat "$out/case2-$kind.dat"; done |
	awk '!/^#/ && $3 > m { m = $3 } END { print (m > 0 ? m * 1.1 : 1) }')
nkinds=$(echo "$swaps" | wc -w)
# gnuplot commands for the case study 2 panel of swap KIND.
case2_panel() {
	case "$1" in
	disk) echo "set title 'disk swap (virtio disk, sparse file on the host)'" ;;
	zram) echo "set title 'zram swap (compressed RAM)'" ;;
	esac
	cat <<GP
plot '$out/case2-$1.dat' using 1:2 with linespoints lw 2 pt 7 lc 1 title 'CPU utilisation of the N processes', \\
     '' using 1:7 with linespoints dt 2 pt 6 lc 1 title 'guest CPU busy (all, /proc/stat)', \\
     '' using 1:8 with linespoints dt 3 pt 4 lc 3 title 'guest CPU iowait', \\
     '' using 1:3 axes x1y2 with linespoints lw 2 pt 5 lc 2 title 'major faults/s'
GP
}

if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then
	term="pngcairo font 'Sans,10' size"
else
	term="png size"
fi
gnuplot <<GP
set terminal $term 800,500
set output '$out/case1.png'
set title "Case study 1: work $((1024 / scale)) MB x 2 (course: 1024 MB), guest ${mem_mb} MB RAM + ${swaps%% *} swap"
set xlabel 'time (s)'
set ylabel 'accumulated page faults (minor + major)'
set key left top
set grid
plot '$out/case1-run1.dat' using 1:2 with lines lw 2 title 'R $((50000 / scale)) + R $((10000 / scale))', \
     '$out/case1-run2.dat' using 1:2 with lines lw 2 title 'R $((50000 / scale)) + L $((10000 / scale))', \
     '$out/case1-run1.dat' using 1:3 with lines dt 2 lc 1 title 'run 1: major only', \
     '$out/case1-run2.dat' using 1:3 with lines dt 2 lc 2 title 'run 2: major only'
set terminal $term 1400,520
set output '$out/case1-procs.png'
set multiplot layout 1,2 title "Case study 1, per process (mp3prof-monitor --per-process): accumulated faults (solid) and major faults (dashed)"
set title 'run 1'
$(case1_procs_panel 1 "work R $((50000 / scale))" "work R $((10000 / scale))")
set title 'run 2'
$(case1_procs_panel 2 "work R $((50000 / scale))" "work L $((10000 / scale))")
unset multiplot
set terminal $term $((nkinds * 700)),520
set output '$out/case2.png'
set multiplot layout 1,$nkinds title "Case study 2: N x work $((200 / scale)) R $((10000 / scale)) (course: 200 MB, 10000), guest ${mem_mb} MB RAM, $cpus CPUs"
set xlabel 'N (processes)'
set ylabel 'CPU (% of all guest CPUs)'
set y2label 'major page faults per second'
set ytics nomirror
set y2tics
set yrange [0:100]
set y2range [0:$maj_max]
set key left top
$(for kind in $swaps; do case2_panel "$kind"; done)
unset multiplot
GP

{
	echo "guest: ${mem_mb} MB RAM, ${swap_mb} MB swap, $cpus CPUs, kernel $kernel; case 1 on ${swaps%% *} swap"
	echo "course sizes and accesses divided by $scale, work sleeps $sleep_ms ms per iteration"
	for r in 1 2; do
		tail -n 1 "$out/case1-run$r.dat" | awk -v r="$r" \
			'{ printf "case 1 run %s: %.1f s, %d faults, %d major\n", r, $1, $2, $3 }'
	done
	for kind in $swaps; do
		echo "case 2 on $kind swap:"
		cat "$out/case2-$kind.dat"
	done
	echo "monitor cost (--syscalls):"
	grep -h 'syscalls' "$g"/*.log | sed 's/^/  /'
	echo "run durations (s):"
	sed 's/^/  /' "$g/durations.txt"
} > "$out/summary.txt"
cat "$out/summary.txt"
say "demo done in $(($(date +%s) - t0)) s; results in $out (case1.png, case1-procs.png, case2.png, summary.txt, guest/demo/*.csv)"
