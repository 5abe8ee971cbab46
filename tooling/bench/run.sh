#!/usr/bin/env bash
# mp3prof benchmark suite ("make bench").
#
# Builds tooling/bench/bench.c statically, boots the release kernel in QEMU
# through the harness (make vm DIR=... CMD=./guest.sh OUT=...), runs the
# benchmarks there (guest.sh) and writes tooling/bench/results.md, which it
# also prints.  Benchmarks print figures; they do not pass or fail.  The
# exit status is non-zero only if the suite could not run or a benchmark
# crashed.
#
# Environment: VM_MEM (guest MiB, default 2048: 10000 idle processes),
# VM_TIMEOUT (s, default 1800), BENCH_QUICK=1 (short runs, for trying the
# suite out; results.md says so), BENCH_RESULTS (output file, default
# tooling/bench/results.md), BENCH_RENDER=DIR (only rewrite results.md from
# the results of an earlier run in DIR), MP3PROF_CACHE (the harness's cache directory;
# the suite works in $MP3PROF_CACHE/bench), and the harness's variables.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
# lib.sh takes the cache lock for the whole run (builds and the guest share
# the cache); rendering an earlier run's results touches nothing there.
[ -n "${BENCH_RENDER:-}" ] && export MP3PROF_LOCKED=1
. "$ROOT/tooling/harness/lib.sh"

export VM_MEM=${VM_MEM:-2048}
# The guest's 2 vCPUs are 2 sockets of QEMU's default (AMD) CPU model, so
# the kernel assumes unsynchronised TSCs and falls back to the jiffies
# clocksource: every clock_gettime() and ktime_get_ns() would then move in
# 4 ms steps.  TCG derives every vCPU's TSC from one host clock, so tell the
# kernel to trust it.
export VM_APPEND="tsc=reliable${VM_APPEND:+ $VM_APPEND}"
export VM_TIMEOUT=${VM_TIMEOUT:-1800}
quick=${BENCH_QUICK:-0}
results=${BENCH_RESULTS:-$here/results.md}
work=$CACHE/bench
guest=$work/guest
out=$work/out
start=$(date +%s)
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')

# Build, boot, run guest.sh; the guest's /out lands in $out.
run_suite() {
	rm -rf "$guest" "$out"
	mkdir -p "$guest" "$out"

	say "building bench (static)"
	gcc -O2 -static -Wall -Wextra -I"$ROOT/include/uapi" \
		-o "$guest/bench" "$here/bench.c" -lm
	install -m 755 "$here/guest.sh" "$guest/guest.sh"
	printf 'QUICK=%s\n' "$quick" > "$guest/bench.conf"
	[ -n "${BENCH_NS:-}" ] && printf 'NS="%s"\nQUICK_NS="%s"\n' "$BENCH_NS" "$BENCH_NS" >> "$guest/bench.conf"

	# The harness installs tools/mp3prof into the guest only when the applied
	# series contains it.  Otherwise build mp3prof-monitor from the working
	# tree, out of tree, so that P5 can still measure it; guest.sh prefers the
	# installed one.
	if [ -f "$ROOT/tools/mp3prof/Makefile" ]; then
		say "building mp3prof-monitor from the working tree (fallback for the guest)"
		mkdir -p "$work/tools"
		if make -s -C "$ROOT/tools/mp3prof" OUTPUT="$work/tools/" CC=gcc \
			LDFLAGS=-static KHDR_INCLUDES="-I$ROOT/include/uapi" \
			"$work/tools/mp3prof-monitor" >"$work/tools.log" 2>&1; then
			cp "$work/tools/mp3prof-monitor" "$guest/"
		else
			warn "could not build tools/mp3prof (see $work/tools.log); the guest's own monitor, if any, is used"
		fi
	fi

	local rc=0
	say "booting the release kernel (VM_MEM=$VM_MEM MiB, VM_APPEND=$VM_APPEND, VM_TIMEOUT=${VM_TIMEOUT}s); log in $work/vm.log"
	make -C "$ROOT" --no-print-directory vm VARIANT=release DIR="$guest" OUT="$out" \
		CMD='./guest.sh' 2>&1 | tee "$work/vm.log" |
		grep --line-buffered -E '^(==>|ERROR|WARNING)|^bench: (N=|rate |fault rep|follow rep|monitor rep)' ||
		rc=${PIPESTATUS[0]}
	[ -f "$out/results.txt" ] || die "the guest produced no results (make vm status $rc); see $work/vm.log"
	[ "$rc" -eq 0 ] || warn "make vm exited with status $rc (failed benchmarks are listed in the results)"
	cp "$work/vm.log" "$out/vm.log" 2>/dev/null || true
}

# BENCH_RENDER=DIR: only (re)write results.md from a finished run's out dir.
if [ -n "${BENCH_RENDER:-}" ]; then
	out=$BENCH_RENDER
	elapsed=0
else
	run_suite
	elapsed=$(( $(date +%s) - start ))
fi

say "writing $results"
cmdline="make bench"
[ "$quick" = 1 ] && cmdline="BENCH_QUICK=1 $cmdline"
info() { awk -F'|' -v k="$1" '$1 == "I" && $2 == k { print $3; exit }' "$out/results.txt"; }
{
	echo "# mp3prof benchmark results"
	echo
	[ "$quick" = 1 ] && { echo "**QUICK run (BENCH_QUICK=1): shortened benchmarks, not the reference figures.**"; echo; }
	echo "- Date: $started; suite wall time $((elapsed / 60)) min $((elapsed % 60)) s (kernel build included)"
	echo "- Command: \`$cmdline\` (tooling/bench/run.sh: \`make vm VARIANT=release DIR=<bench dir> CMD=./guest.sh OUT=<dir>\` with VM_MEM=$VM_MEM VM_APPEND=\"$VM_APPEND\")"
	echo "- Source: $(git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null || echo '?'); series: $(series_patches | wc -l) patches"
	echo "- Host: $(uname -m), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(qemu-system-x86_64 --version | head -1)"
	echo "- Guest: QEMU TCG (no KVM), $(info cpus) vCPUs, $(info mem_mib) MiB, kernel $(info kernel) (release config), HZ=$(info hz), clocksource $(info clocksource), ring of $(info nr_records) records"
	echo "- mp3prof-monitor: $(info monitor)"
	case "$(info clocksource)" in
	*jiffies*) echo "- **WARNING: the guest's clocksource is $(info clocksource): all times move in 1/HZ steps and the timings below are meaningless.**" ;;
	esac
	echo "- Every figure is measured side by side in this one guest run; \"median\" is over the repetitions (≥5) given in each row, min and max likewise. Absolute times under TCG are several times slower than on hardware and distorted (system calls, page clearing and timers are emulated); compare ratios and per-item costs."
	echo
	awk -F'|' '
	function fmt(x,   a) {
		if (x == "nan" || x == "-nan" || x == "") return "n/a"
		a = x < 0 ? -x : x
		if (a >= 1000) return sprintf("%.0f", x)
		if (a >= 100) return sprintf("%.1f", x)
		if (a >= 1) return sprintf("%.2f", x)
		return sprintf("%.3g", x)
	}
	BEGIN {
		title["P1"] = "P1: sampling cost, kernel vs a user-space /proc/PID/stat poller"
		desc["P1"] = "N idle processes (clone(CLONE_VM) children in pause()). Kernel: records'"'"' work_ns / N, median/min/max over 5 blocks of 10 consecutive samples (mean per block; 50 samples). User space: one 20 Hz round over the same N pids, pidstat'"'"'s way (open, read, close, parse) and with the files kept open (pread), interleaved, 15 rounds (7 for N >= 1000), time / N. Ratio: user median / kernel median (min = user min / kernel max, max = user max / kernel min)."
		title["P2"] = "P2: sampling rate accuracy"
		desc["P2"] = "One registered idle process, a follow-mode reader collecting every record. 20 Hz (default) for the longest run, then the module is reloaded with rate=R for shorter runs. Intervals from records'"'"' time_ns. Rate error = ((samples-1)/(t_last-t_first) - rate)/rate; its min/max are over 5 equal windows. Drift = t_k - (t_0 + k/rate) at the last sample; min/max over the whole run."
		title["P3"] = "P3: page fault path overhead, registered vs not"
		desc["P3"] = "Touch one byte per page of a fresh anonymous mmap (no MAP_POPULATE, THP off, munmap after each run); runs alternate A B / B A (A = not registered, B = the toucher registered, so sampling runs at 20 Hz). ns per fault = loop time / minor faults (getrusage). One warm-up pair is discarded."
		title["P4"] = "P4: control file scale"
		desc["P4"] = "Register N processes with one write(\"R pid\") each, read the whole /proc/mp3prof/status listing once, unregister with one write each; 5 repetitions. Per-item cost = time / N; linear scaling shows as similar per-item cost at every N. Sampling at 20 Hz runs meanwhile and contends for the registry lock."
		title["P5"] = "P5: consumer cost of a follow-mode reader"
		desc["P5"] = "At 20 Hz with one registered process. bench'"'"'s own reader blocks in read() of the u64 head and copies the new records from the mapping; per repetition it counts its read() calls, the returns from read() (wake-ups) and its context switches (getrusage) per sample read. mp3prof-monitor: its own --syscalls count over -d SECS."
		title["P6"] = "P6: sessions"
		desc["P6"] = "The same idle processes sampled by one session, then split equally among 10 sessions (each at 20 Hz on its own grid): records'"'"' work_ns / the session'"'"'s processes, pooled over every session'"'"'s 50 samples after 2 skipped, median/min/max over 5 blocks of consecutive samples. The per-process cost must not grow with the number of sessions. Then a session with no process for 2 s: its header'"'"'s sample count."
		n = split("P1 P2 P3 P4 P5 P6", order, " ")
	}
	$1 == "R" {
		b = $2; rows[b] = rows[b] sprintf("| %s | %s | %s | %s | %s | %s | %s |\n", $3, $4, fmt($5), fmt($6), fmt($7), $8, $9)
		if ($9 == "yes" || $9 == "no") goals = goals sprintf("| %s | %s | %s | %s |\n", b, $3, $8, $9)
	}
	$1 == "R" && $2 == "P4" && match($3, /^N=[0-9]+ /) {
		nn = substr($3, 3, RLENGTH - 3); what = substr($3, RLENGTH + 1)
		p4[nn, what] = $5; p4what[what] = $4
	}
	$1 == "F" { fails = fails sprintf("- %s (`%s`): %s\n", $2, $3, $4) }
	END {
		# Linear scaling: per-item cost at N=10000 against N=1000.
		for (w in p4what) {
			if (!((10000, w) in p4) || !((1000, w) in p4) || p4[1000, w] <= 0) continue
			r = p4[10000, w] / p4[1000, w]
			m = sprintf("%s: per-item cost at N=10000 / at N=1000", w)
			rows["P4"] = rows["P4"] sprintf("| %s | x | %s | %s | %s | <= 1.5 (linear) | %s |\n", m, fmt(r), fmt(r), fmt(r), r <= 1.5 ? "yes" : "no")
			goals = goals sprintf("| P4 | %s | <= 1.5 (linear) | %s |\n", m, r <= 1.5 ? "yes" : "no")
		}
		print "## Goals\n"
		print "| Bench | Metric | Goal | Met |"
		print "|---|---|---|---|"
		printf "%s\n", goals
		if (fails != "") printf "**Benchmarks that failed:**\n\n%s\n", fails
		for (i = 1; i <= n; i++) {
			b = order[i]
			print "## " title[b] "\n"
			print desc[b] "\n"
			if (rows[b] == "") { print "(no results)\n"; continue }
			print "| Metric | Unit | Median | Min | Max | Goal | Met |"
			print "|---|---|---:|---:|---:|---|---|"
			printf "%s\n", rows[b]
		}
	}' "$out/results.txt"
	echo "Raw output: \`$out\` (results.txt, bench.log, output.txt, dmesg.txt)."
} > "$results"

cat "$results"
fails=$(grep -c '^F|' "$out/results.txt" || true)
if [ "$fails" -gt 0 ]; then
	warn "$fails benchmark(s) failed"
	exit 1
fi
