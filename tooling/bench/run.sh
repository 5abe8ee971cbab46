#!/usr/bin/env bash
# mp3prof benchmark suite ("make bench").
#
# Builds tooling/bench/bench.c statically, perf statically from the applied
# tree's tools/perf (only what perf stat needs; cached in
# $MP3PROF_CACHE/bench/perf), copies Debian's pidstat with the shared
# libraries ldd names, builds the "bench" kernel (release config +
# tooling/kconfig/bench.config: cgroup v2 + memcg, high-resolution timers,
# tickless idle) and the driver of an older commit as a module of it, boots
# it in QEMU through the harness (what make vm VARIANT=bench DIR=...
# CMD=./guest.sh OUT=... does), runs the benchmarks there (guest.sh), writes
# tooling/bench/results.md and prints it.  Benchmarks print figures
# and whether each goal was met; they do not fail on a goal.  The exit status
# is non-zero only if the suite could not run or a benchmark crashed.
#
# Needs on the host (Debian packages): sysstat (pidstat), flex and bison
# (perf's parsers), libc6-dev (static libc); it stops with a message naming
# the missing ones.
#
# Environment: VM_MEM (guest MiB, default 2048: 10000 idle processes),
# VM_TIMEOUT (s, default 2700), BENCH_QUICK=1 (short runs, for trying the
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
export VM_TIMEOUT=${VM_TIMEOUT:-2700}
quick=${BENCH_QUICK:-0}
results=${BENCH_RESULTS:-$here/results.md}
work=$CACHE/bench
guest=$work/guest
out=$work/out
start=$(date +%s)
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')

# The host packages the suite needs; stop with their names if any is missing.
check_deps() {
	local missing=()

	[ -x /usr/bin/pidstat ] || missing+=("sysstat (pidstat, for P8 and P10)")
	command -v flex >/dev/null || missing+=("flex (to build perf)")
	command -v bison >/dev/null || missing+=("bison (to build perf)")
	[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=("libc6-dev (static libc for bench and perf)")
	if [ ${#missing[@]} -gt 0 ]; then
		echo "ERROR: make bench needs these Debian packages:" >&2
		printf '    %s\n' "${missing[@]}" >&2
		echo "Install them with: apt-get install -y --no-install-recommends $(printf '%s\n' "${missing[@]}" | cut -d' ' -f1 | tr '\n' ' ')" >&2
		exit 1
	fi
}

# perf, static, with only what perf stat needs, from the applied tree's
# tools/perf; rebuilt only when tools/ or the flags change.
PERF_FLAGS=(NO_LIBELF=1 NO_LIBTRACEEVENT=1 NO_LIBPYTHON=1 NO_LIBPERL=1 NO_SLANG=1
	NO_GTK2=1 NO_LIBUNWIND=1 NO_LIBDW_DWARF_UNWIND=1 NO_DWARF=1 NO_LIBNUMA=1
	NO_LIBAUDIT=1 NO_LIBCRYPTO=1 NO_LIBBPF=1 NO_BPF_SKEL=1 NO_LIBCAP=1
	NO_LIBZSTD=1 NO_LZMA=1 NO_ZLIB=1 NO_LIBBABELTRACE=1 NO_CAPSTONE=1
	NO_JVMTI=1 NO_AUXTRACE=1 NO_SDT=1 NO_LIBPFM4=1 NO_LIBDEBUGINFOD=1
	NO_DEMANGLE=1 NO_BACKTRACE=1 NO_SHELLCHECK=1 NO_JEVENTS=1 NO_AIO=1
	NO_PERF_READ_VDSO32=1 NO_PERF_READ_VDSOX32=1 WERROR=0 LDFLAGS=-static)
build_perf() {
	local src o=$work/perf want
	src=$(src_dir)
	want=$( { git -C "$src" rev-parse HEAD:tools 2>/dev/null || find "$src/tools" -type f -newer "$src/Makefile" | sort; printf '%s\n' "${PERF_FLAGS[@]}"; } | sha256sum | cut -d' ' -f1)
	if [ -x "$o/perf" ] && [ "$(cat "$o/.mp3prof-stamp" 2>/dev/null)" = "$want" ]; then
		say "perf: cached static build in $o"
	else
		say "building perf statically from $src/tools/perf (a few minutes; cached in $o); log in $work/perf.log"
		rm -f "$o/.mp3prof-stamp"
		mkdir -p "$o"
		make -C "$src/tools/perf" O="$o" "${PERF_FLAGS[@]}" -j"$(nproc)" "$o/perf" \
			> "$work/perf.log" 2>&1 || die "building perf failed; see $work/perf.log"
		echo "$want" > "$o/.mp3prof-stamp"
	fi
	! readelf -l "$o/perf" | grep -q INTERP || die "$o/perf is not static"
	strip -o "$guest/perf" "$o/perf"
}

# pidstat and the shared libraries ldd names, at the same paths.
copy_pidstat() {
	local lib
	mkdir -p "$guest/sysroot/usr/bin"
	cp -L /usr/bin/pidstat "$guest/sysroot/usr/bin/pidstat"
	for lib in $(ldd /usr/bin/pidstat | grep -o '/[^ ]*'); do
		mkdir -p "$guest/sysroot$(dirname "$lib")"
		cp -L "$lib" "$guest/sysroot$lib"
	done
}

# The driver before the exact CPU read (the commit before "CPU time exact to
# the sample instant"), built as a module of the bench kernel, so that P1
# compares the sampling cost of both in one run.
OLD_REV=f2b8f96
build_oldmod() {
	local src d=$work/oldmod
	src=$(src_dir)
	rm -rf "$d"
	mkdir -p "$d"
	if ! git -C "$ROOT" archive "$OLD_REV" drivers/misc/mp3prof 2>/dev/null | tar -x -C "$d"; then
		warn "commit $OLD_REV is not in this repository: no same-run P1 comparison"
		return 0
	fi
	say "building the mp3prof module of $OLD_REV against the bench kernel; log in $work/oldmod.log"
	make -C "$src" O="$CACHE/build/bench" "${KMAKE_ARGS[@]}" M="$d/drivers/misc/mp3prof" \
		modules > "$work/oldmod.log" 2>&1 || die "building the $OLD_REV module failed; see $work/oldmod.log"
	cp "$d/drivers/misc/mp3prof/mp3prof.ko" "$guest/mp3prof-old.ko"
	printf 'OLD_LABEL=%s\n' "$(git -C "$ROOT" log -1 --format=%h "$OLD_REV")" >> "$guest/bench.conf"
}

# Build, boot, run guest.sh; the guest's /out lands in $out.
run_suite() {
	check_deps
	rm -rf "$guest" "$out"
	mkdir -p "$guest" "$out"

	say "building bench (static)"
	gcc -O2 -static -Wall -Wextra -I"$ROOT/include/uapi" \
		-o "$guest/bench" "$here/bench.c" -lm -lpthread
	printf 'QUICK=%s\n' "$quick" > "$guest/bench.conf"
	[ -n "${BENCH_NS:-}" ] && printf 'NS="%s"\nQUICK_NS="%s"\n' "$BENCH_NS" "$BENCH_NS" >> "$guest/bench.conf"
	# What make vm VARIANT=bench does (vm.sh), with the old module built
	# between the kernel and the boot.
	"$HARNESS/prepare.sh"
	"$HARNESS/build.sh" bench
	build_perf
	copy_pidstat
	build_oldmod
	install -m 755 "$here/guest.sh" "$guest/guest.sh"

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

	local rc=0 loadpid
	# The host's load while the guest runs (the guest's own 2 vCPUs are up
	# to 2.0 of it).
	(while sleep 15; do cut -d' ' -f1 /proc/loadavg; done) > "$work/hostload.txt" &
	loadpid=$!
	say "booting the bench kernel (VM_MEM=$VM_MEM MiB, VM_APPEND=$VM_APPEND, VM_TIMEOUT=${VM_TIMEOUT}s); log in $work/vm.log"
	DIR="$guest" OUT="$out" "$HARNESS/run-vm.sh" bench cmd './guest.sh' 2>&1 | tee "$work/vm.log" |
		grep --line-buffered -E '^(==>|ERROR|WARNING)|^bench: (N=|rate |fault rep|follow rep|monitor rep|compare |P[0-9]+|exact-read)' ||
		rc=${PIPESTATUS[0]}
	kill "$loadpid" 2>/dev/null || true
	cp "$work/hostload.txt" "$out/hostload.txt" 2>/dev/null || true
	[ -f "$out/results.txt" ] || die "the guest produced no results (run-vm.sh status $rc); see $work/vm.log"
	[ "$rc" -eq 0 ] || warn "the guest run exited with status $rc (failed benchmarks are listed in the results)"
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
hostload() {
	[ -s "$out/hostload.txt" ] || { echo "not recorded"; return; }
	sort -n "$out/hostload.txt" | awk '{ v[NR] = $1 } END {
		printf "median %.2f, max %.2f over %d samples (every 15 s; the guest'"'"'s own 2 vCPUs are up to 2.0 of it)", v[int((NR + 1) / 2)], v[NR], NR }'
}

# The summary table: one row per tool, every cell from this run's results.
summary() {
	awk -F'|' '
	function fmt(x,   a) {
		if (x == "" || x == "nan" || x == "-nan") return "n/a"
		a = x < 0 ? -x : x
		if (a >= 1000) return sprintf("%.0f", x)
		if (a >= 100) return sprintf("%.1f", x)
		if (a >= 1) return sprintf("%.2f", x)
		return sprintf("%.3g", x)
	}
	function g(b, m, f) { return ((b, m, f) in v) ? v[b, m, f] : "" }
	function ci(who,   m) {
		m = who " - not watched: mean and its 95% CI, paired t (min/max = CI)"
		if (g("P3", m, 5) == "") return "not measured"
		return sprintf("%+.1f %% per fault (95 %% CI %+.1f .. %+.1f %%, %s triples)", g("P3", m, 5), g("P3", m, 6), g("P3", m, 7), triples)
	}
	function faults(tool,   i, r, m, s) {
		s = ""
		for (i = 1; i <= nr; i++) {
			r = rates[i]
			m = r " faults/s, " tool ": abs(error) / truth, p99"
			if (g("P9", m, 5) == "") continue
			s = s sprintf("%sfaults at %s/s: p99 %s %%", s == "" ? "" : "; ", r, fmt(g("P9", m, 5)))
		}
		return s == "" ? "faults: not measured" : s
	}
	function cpu(m) { m = m ": abs(error) / truth, p99"; return g("P9", m, 5) == "" ? "not measured" : fmt(g("P9", m, 5)) " %" }
	function exitc(m) { m = m " / true faults"; return g("P10", m, 5) == "" ? "not measured" : sprintf("%s of the faults (min %s, max %s)", fmt(g("P10", m, 5)), fmt(g("P10", m, 6)), fmt(g("P10", m, 7))) }
	$1 == "R" {
		v[$2, $3, 5] = $5; v[$2, $3, 6] = $6; v[$2, $3, 7] = $7
		if ($2 == "P9" && match($3, /^[0-9]+ faults\/s, mp3prof/)) { split($3, w, " "); if (!(w[1] in seen)) { seen[w[1]] = 1; rates[++nr] = w[1] } }
		if ($2 == "P3" && match($3, /\(([0-9]+) triples\)/)) { t = substr($3, RSTART + 1); sub(/ triples.*/, "", t); triples = t }
	}
	END {
		N = "N=1000 "
		m3 = g("P8", N "mp3prof incl. its reader: per sample per process", 5)
		print "| Tool | Cost per sample per process (N=1000 idle) | Fault-path cost | Accuracy of a 50 ms delta (p99 of abs(error) / truth) | Aggregates a set | Per-process view | Lossless at exit | Zero-syscall reader |"
		print "|---|---|---|---|---|---|---|---|"
		printf "| mp3prof, 20 Hz session | %s ns (kernel %s ns + its reader %s us per sample) | %s | %s; CPU of a spinning process: p99 %s | yes: an aggregate session sums its processes exactly (MP3PROF_SESSION_TREE adds descendants) | yes: MP3PROF_SESSION_PER_PROCESS, a record per process per sample (P9, P10) | %s | yes: records are read from the mapping; read() only blocks until the next sample (P5: %s syscalls per sample) |\n",
			fmt(m3), fmt(g("P8", N "mp3prof: kernel work_ns per sample per process", 5)),
			fmt(g("P8", N "mp3prof: its reader'"'"'s CPU per sample (read() + wake-up + copy)", 5)),
			ci("mp3prof"), faults("mp3prof 50 ms fault delta"),
			cpu("spinning process, mp3prof cpu_ns per 50 ms sample vs time_ns interval"),
			exitc("mp3prof (per-process session, sum of the child'"'"'s records)"),
			fmt(g("P5", "bench follow reader: syscalls per sample", 5))
		pf = g("P8", N "perf stat -I 50: perf'"'"'s CPU per interval per process", 5)
		printf "| perf stat -I 50 -e minor-faults,major-faults,task-clock -p PIDS | %s ns (%sx mp3prof); its intervals last %s ms, not 50 | %s | faults: n/a, perf stamps intervals with its own start time, which cannot be put on the faulter'"'"'s clock (its counts are exact at each read); CPU of a spinning process (task-clock over its own stamps): p99 %s | yes: the -p list is summed (later children are not followed) | yes, with --per-thread (not measured) | %s | no: one read() per event per thread each interval (read_counter_cpu(), tools/perf/builtin-stat.c) |\n",
			fmt(pf), fmt(g("P8", N "ratio perf stat / mp3prof incl. reader", 5)),
			fmt(g("P8", N "perf stat -I 50: interval length (asked: 50 ms)", 5)), ci("perf stat"),
			cpu("spinning process, perf stat -I 50 task-clock vs its interval stamps"),
			exitc("perf stat -I 50 -e minor-faults (sum of its intervals)")
		ps = g("P8", N "pidstat -h -r -u 1: pidstat'"'"'s CPU per report per process", 5)
		printf "| pidstat -h -r -u 1 -p PIDS | %s ns (%sx mp3prof) | n/a: it reads /proc and adds nothing to the fault path (not measured) | n/a: 1 s is its shortest interval | no: per task (-T CHILD adds each task'"'"'s reaped children) | yes | %s | no: opens and reads /proc/PID/stat and more per process per report |\n",
			fmt(ps), fmt(g("P8", N "ratio pidstat / mp3prof incl. reader", 5)),
			exitc("pidstat -h -r 1 (sum of minflt/s x 1 s)")
		cg = g("P8", N "cgroup v2, the same round / N (aggregate only: no per-process view)", 5)
		printf "| cgroup v2: memory.stat + cpu.stat at 20 Hz | %s ns (the set'"'"'s round / N; a per-process view needs a cgroup per process: %s us per process per round, the N=1 round) | n/a: reading adds nothing to the fault path; memcg accounts every fault of a process in a cgroup, polled or not (not measured) | %s; CPU of a spinning process: p99 %s | yes: everything in the cgroup, children included | no: one cgroup per process | %s right after the reaping; %s 2.5 s later | no: open + read + close of both files per round |\n",
			fmt(cg), fmt(g("P8", "N=1 cgroup v2, all N in one cgroup: memory.stat + cpu.stat, poller CPU per round", 5)),
			faults("cgroup memory.stat pgfault 50 ms delta"),
			cpu("spinning process, cgroup cpu.stat usage_usec per 50 ms vs read interval"),
			fmt(g("P10", "cgroup memory.stat pgfault, read right after the reaping / true faults", 5)),
			fmt(g("P10", "cgroup memory.stat pgfault, read 2.5 s after the reaping / true faults", 5))
	}' "$out/results.txt"
}

{
	echo "# mp3prof benchmark results"
	echo
	[ "$quick" = 1 ] && { echo "**QUICK run (BENCH_QUICK=1): shortened benchmarks, not the reference figures.**"; echo; }
	echo "- Date: $started; suite wall time $((elapsed / 60)) min $((elapsed % 60)) s (kernel and perf builds included)"
	echo "- Command: \`$cmdline\` (tooling/bench/run.sh: what \`make vm VARIANT=bench DIR=<bench dir> CMD=./guest.sh OUT=<dir>\` does, with VM_MEM=$VM_MEM VM_APPEND=\"$VM_APPEND\")"
	echo "- Source: $(git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- tooling/bench drivers include ':!tooling/bench/results.md' 2>/dev/null || echo ' (with uncommitted changes in tooling/bench, drivers or include)'); series: $(series_patches | wc -l) patches"
	echo "- Host: $(uname -m), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(qemu-system-x86_64 --version | head -1); load average during the guest run: $(hostload)"
	echo "- Guest: QEMU TCG (no KVM), $(info cpus) vCPUs, $(info mem_mib) MiB, kernel $(info kernel) (the bench variant: tooling/kconfig/base.config + bench.config, i.e. the release config with cgroup v2 + memcg, high-resolution timers and tickless idle), HZ=$(info hz), clocksource $(info clocksource), default ring of $(info nr_records) records"
	echo "- Other tools: perf $(info perf); pidstat $(info pidstat); $(info cgroup); perf_event_paranoid $(info perf_event_paranoid)"
	echo "- mp3prof-monitor: $(info monitor)"
	case "$(info clocksource)" in
	*jiffies*) echo "- **WARNING: the guest's clocksource is $(info clocksource): all times move in 1/HZ steps and the timings below are meaningless.**" ;;
	esac
	echo "- Every figure is measured side by side in this one guest run; \"median\" is over the repetitions given in each row, min and max likewise. Absolute times under TCG are several times slower than on hardware and distorted (system calls, page clearing and timers are emulated); compare ratios and per-item costs."
	echo
	echo "## Summary: mp3prof against what users would pick instead"
	echo
	summary
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
		desc["P1"] = "N idle processes (clone(CLONE_VM) children in pause()) in the default session (20 Hz). Kernel: records'"'"' work_ns / N, median/min/max over 5 blocks of 10 consecutive samples (mean per block; 50 samples). User space: one 20 Hz round over the same N pids, pidstat'"'"'s way (open, read, close, parse) and with the files kept open (pread), interleaved, 15 rounds (7 for N >= 1000), time / N. Ratio: user median / kernel median (min = user min / kernel max, max = user max / kernel min). At N=1000 the kernel cost is compared with the driver before the exact CPU read in the same run: run.sh builds the module of commit '"$OLD_REV"' (sessions and the CLOCK_MONOTONIC grid, CPU time as of the last tick) against this kernel, and the guest swaps the two modules in turn (rmmod/insmod) over the same 1000 processes, the order alternating; per turn the median of 20 samples. For reference the rows against the committed 2026-11-22 run (1086 ns per process per round) compare two runs, once absolute and once divided by each run'"'"'s own /proc poller (which the driver does not touch) to cancel the guest'"'"'s speed."
		title["P2"] = "P2: sampling rate accuracy against CLOCK_MONOTONIC"
		desc["P2"] = "One idle process in one session per rate (MP3PROF_IOC_SESSION period_ns = 1e9 / rate), a reader following every session with poll() + read(). 20 Hz and 1 Hz run together for the long run (1 Hz adds one sample a second), 100, 250 and 1000 Hz alone afterwards. Expected samples: slots of the grid (one per period after the ADD) before the deadline. Intervals from records'"'"' time_ns (CLOCK_MONOTONIC when the counters were read). Rate error = ((samples-1)/(t_last-t_first) - rate)/rate; its min/max are over 5 equal windows; the least-squares slope of time_ns over the sample number is given too. Drift = t_k - (t_0 + k period) at the last sample, min/max over the run; a skipped slot adds a period to it."
		title["P3"] = "P3: page fault path, not watched vs watched by mp3prof vs watched by perf stat"
		desc["P3"] = "Touch one byte per page of a fresh anonymous mmap (no MAP_POPULATE, THP off, munmap after each run). Triples of runs: not watched; watched by a 20 Hz mp3prof session (a new session, the toucher added before, the session closed after); watched by `perf stat -I 50 -e minor-faults,major-faults,task-clock -p <toucher>` (started before, first interval printed, SIGINT after). The order within a triple cycles through all 6 permutations. ns per fault = loop time / minor faults (getrusage). Differences (watched - not) / not per triple; mean with its 95 % confidence interval (paired t; and a 4000-resample bootstrap of the mean). One warm-up run of each kind is discarded."
		title["P4"] = "P4: control file scale"
		desc["P4"] = "Register N processes with one write(\"R pid\") each, read the whole /proc/mp3prof/status listing once, unregister with one write each; 5 repetitions. Per-item cost = time / N; linear scaling shows as similar per-item cost at every N. Sampling at 20 Hz runs meanwhile and contends for the registry lock."
		title["P5"] = "P5: consumer cost of a follow-mode reader"
		desc["P5"] = "At 20 Hz with one registered process. bench'"'"'s own reader blocks in read() of the u64 head and copies the new records from the mapping; per repetition it counts its read() calls, the returns from read() (wake-ups) and its context switches (getrusage) per sample read. mp3prof-monitor: its own --syscalls count over -d SECS."
		title["P6"] = "P6: sessions"
		desc["P6"] = "The same idle processes sampled by one session, then split equally among 10 sessions (each at 20 Hz on its own grid): records'"'"' work_ns / the session'"'"'s processes, pooled over every session'"'"'s 50 samples after 2 skipped, median/min/max over 5 blocks of consecutive samples. The per-process cost must not grow with the number of sessions. Then a session with no process for 2 s: its header'"'"'s sample count."
		title["P7"] = "P7: CPU time of a running thread, per sample, and the cost of reading it exactly"
		desc["P7"] = "Accuracy: a process spinning on the last CPU in a 20 Hz session; per sample cpu_ns / (time_ns - the previous sample'"'"'s time_ns). The truth is that interval between the records'"'"' own CLOCK_MONOTONIC stamps: a spinning thread runs all of it, except what the guest runs on its CPU meanwhile (a preempted vCPU of the host does not count: the guest sees the thread running). The first sample (its delta runs from the ADD) is left out. Cost: one process of 8 threads in a 100 Hz session, the sampling work kept on CPU 0 (/sys/devices/virtual/workqueue/cpumask) and the threads on the last CPU; blocks of samples with all 8 threads sleeping and that CPU idle (A), all 8 sleeping while another process spins there (D), 1 of them spinning (B) and all 8 spinning (C: only one can be on the CPU, the others are runnable), A D B C per round, 3 samples skipped after each switch; per block the median work_ns. task_sched_runtime() takes the runqueue lock and updates the runtime only for a thread on a CPU, so B - D is the exact read of one running thread; D - A is what a busy second vCPU costs the first in this guest (the host runs both vCPU threads on 2 shared cores), nothing of mp3prof'"'"'s."
		title["P8"] = "P8: cost per sample per process against perf stat, pidstat and cgroup v2"
		desc["P8"] = "N idle processes (clone(CLONE_VM) children in pause()), watched in turn in each repetition by: an aggregate mp3prof session at 20 Hz (work_ns of 20 samples after 2, / N; its reader'"'"'s CPU time (CLOCK_THREAD_CPUTIME_ID) per sample for the read() that blocks, the wake-up and the copy, not / N, then added / N); `perf stat -I 50 -x, -e minor-faults,major-faults,task-clock -p PIDS` (the static perf built from the applied tree; its process CPU clock, which /proc/PID/schedstat shows too, read at each interval line, 20 intervals after 3, / N; /proc/PID/stat has only 10 ms ticks and is logged as a check); `pidstat -h -r -u 1 -p PIDS` (Debian sysstat: its CPU clock at each report header, 3 reports after the first, / N); a 20 Hz poller of memory.stat + cpu.stat of one cgroup holding all N (CPU time of each of 20 rounds). A repetition'"'"'s figure for a tool is the median of its items (samples, intervals, reports, rounds): the host may stop a vCPU thread for milliseconds, which the guest counts as time of whatever ran on it. Not counted for mp3prof: the hrtimer interrupt and the kworker'"'"'s wake-up, once per sample whatever N. Ratios: tool median / mp3prof median (min = tool min / mp3prof max, max = tool max / mp3prof min)."
		title["P9"] = "P9: accuracy of a 50 ms delta: mp3prof against cgroup v2 polling (and perf for CPU)"
		desc["P9"] = "Processes faulting at a steady known rate (one fresh anonymous page per deadline of a CLOCK_MONOTONIC grid, each fault'"'"'s start and end time logged in shared memory), each in a cgroup of its own, and a spinning process in another, watched at the same time for the whole run by a per-process mp3prof session (20 Hz), a 20 Hz poller of the cgroups'"'"' memory.stat (pgfault) and cpu.stat (usage_usec), each read time-stamped before and after, and perf stat -I 50 -e task-clock on the spinner. Truth of a fault delta: the faults the log puts between the two reads; a fault in progress at a read, or a read that takes time, widens the true range, and a delta inside the range has error 0. Truth of a CPU delta: the interval between the two reads (the spinner never sleeps). The first 200 ms are left out. memcg flushes its per-CPU statistics only when a reader finds more than 64 x nr_cpus pending updates, or every 2 s (mm/memcontrol.c); cpu.stat moves at the spinner'"'"'s ticks."
		title["P10"] = "P10: lossless at exit"
		desc["P10"] = "A child faults K fresh pages, sleeps 1.5 s, faults K more and exits at once; its parent reaps it at once (wait4). Truth: wait4()'"'"'s ru_minflt minus the child'"'"'s /proc/PID/stat count while it waited to start (after every tool had attached). Each tool watched it from before it started: mp3prof (a per-process session: the sum of the child'"'"'s records, up to its EXITED record), perf stat -I 50 (the sum of its intervals until it notices the exit), pidstat -h -r 1 (minflt/s x 1 s summed), its cgroup'"'"'s memory.stat pgfault (right after the reaping, and 2.5 s later, after the periodic flush)."
		n = split("P1 P2 P3 P4 P5 P6 P7 P8 P9 P10", order, " ")
	}
	$1 == "R" {
		b = $2; rows[b] = rows[b] sprintf("| %s | %s | %s | %s | %s | %s | %s |\n", $3, $4, fmt($5), fmt($6), fmt($7), $8, $9)
		if ($9 == "yes" || $9 == "no") goals = goals sprintf("| %s | %s | %s | %s | %s |\n", b, $3, $8, fmt($5), $9)
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
			goals = goals sprintf("| P4 | %s | <= 1.5 (linear) | %s | %s |\n", m, fmt(r), r <= 1.5 ? "yes" : "no")
		}
		print "## Goals\n"
		print "| Bench | Metric | Goal | Median | Met |"
		print "|---|---|---|---:|---|"
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
	echo "Raw output: \`$out\` (results.txt, bench.log, output.txt, dmesg.txt, hostload.txt)."
} > "$results"

cat "$results"
fails=$(grep -c '^F|' "$out/results.txt" || true)
if [ "$fails" -gt 0 ]; then
	warn "$fails benchmark(s) failed"
	exit 1
fi
