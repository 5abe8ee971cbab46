#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of mp3prof-monitor and work; TAP on stdout.
#
# The tests that need the driver run when /dev/mp3prof exists (and are
# skipped otherwise); the others use fake ring files and run anywhere.
# The programs are taken from $MONITOR and $WORK, else from the directory
# of this script if built there, else from PATH.
#
# No assertion depends on how fast the (emulated, loaded) machine is: the
# measured figures are compared with what the measured processes report
# about themselves (bash's "times", from getrusage()), with margins
# explained where they are made.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pick() { # pick NAME: path of program NAME
	if [ -x "$here/../$1" ]; then echo "$here/../$1"; else command -v "$1" || echo "$1"; fi
}
MONITOR=${MONITOR:-$(pick mp3prof-monitor)}
WORK=${WORK:-$(pick work)}
PARANOID=/proc/sys/kernel/perf_event_paranoid
tmp=$(mktemp -d)
saved_paranoid=
busy_pids=()
cleanup() {
	local p
	for p in "${busy_pids[@]}"; do kill "$p" 2> /dev/null || true; done
	[ -z "$saved_paranoid" ] || echo "$saved_paranoid" > "$PARANOID"
	rm -rf "$tmp"
}
trap cleanup EXIT

n=0 failed=0
TOTAL=33
echo "TAP version 13"
echo "1..$TOTAL"
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
diag() { sed 's/^/# /' "$@"; }
now_s() { local up _; read -r up _ < /proc/uptime; echo "$up"; }
check() { # check NAME CMD...: ok if CMD succeeds; its output as diagnostics
	local name=$1 t0; shift
	t0=$(now_s)
	if "$@" > "$tmp/check.log" 2>&1; then
		ok "$name"
		grep '^figure:' "$tmp/check.log" | diag || true
	else
		not_ok "$name"
		diag "$tmp/check.log"
	fi
	# MP3PROF_TEST_TIMES=1: how long each test took
	[ -z "${MP3PROF_TEST_TIMES:-}" ] ||
		awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "# %.2f s\n", b - a }'
}
rc_of() { local rc=0; "$@" || rc=$?; echo "$rc"; }

# ---------------------------------------------------------------- fake rings
# Bytes are collected as printf escapes in $bytes and written once per
# file: no process per byte (forks are slow in the emulated test guest).
le() { # le VALUE BYTES: append VALUE little-endian to $bytes
	local v=$1 i o
	for ((i = 0; i < $2; i++)); do
		printf -v o '\\0%03o' $((v & 255))
		bytes+=$o
		v=$((v >> 8))
	done
}
pad() { # pad BYTES VALUE: append BYTES bytes of VALUE
	local i o
	printf -v o '\\0%03o' "$2"
	for ((i = 0; i < $1; i++)); do bytes+=$o; done
}
MAGIC=$((0x4d503350))
BUSY=-1 # MP3PROF_SEQ_BUSY, ~0

# fake_ring FILE [magic=M] [version=V] [nr=N] [head=H] [hs=HEADER_SIZE]
#           [rs=RECORD_SIZE] [flags=F] -- RECORD...
# An ABI v2 ring image: the header (rate 20, HZ 250, period 50 ms), then
# one record per RECORD, in slot order, padded to RECORD_SIZE with 0xaa
# (bytes a reader must ignore):
#   S,SEQ[,NR_PROCS[,FLAGS]]  a sample: jiffies 1000+SEQ, time 1 s + SEQ * 50 ms,
#                             minor 10+SEQ, major SEQ, cpu 8 ms, work 1234
#   P,SEQ,PID,PPID,FLAGS,MIN,MAJ,CPU_NS   a per-process record
#   B,SEQ                     a slot whose seq is SEQ (overwritten, or $BUSY)
#   T,SEQ                     a record of an unknown type (7)
fake_ring() {
	local f=$1 magic=$MAGIC version=2 nr=4 head=0 hs=4096 rs=64 flags=0 r
	local -a a
	shift
	while [ "$1" != -- ]; do local "${1?}"; shift; done
	shift
	bytes=
	le "$magic" 4; le "$version" 4; le "$hs" 4; le "$rs" 4; le "$nr" 4
	le 20 4; le 250 4; le "$flags" 4; le 50000000 8; le "$head" 8
	le 0 8; le 0 8; le 0 4; le 0 4 # work_ns samples max_procs reserved0
	printf '%b' "$bytes" > "$f"
	# (busybox head reads "-c -N" of /dev/zero forever: no padding then)
	[ "$hs" -le 72 ] || head -c $((hs - 72)) /dev/zero >> "$f"
	bytes=
	for r; do
		IFS=, read -r -a a <<< "$r"
		case ${a[0]} in
		S)	le "${a[1]}" 8; le 1 2; le "${a[3]:-0}" 2; le "${a[2]:-1}" 4
			le $((1000 + a[1])) 8; le $((1000000000 + a[1] * 50000000)) 8
			le $((10 + a[1])) 8; le "${a[1]}" 8; le 8000000 8
			le 0 4; le 1234 4 ;;
		P)	le "${a[1]}" 8; le 2 2; le "${a[4]}" 2; le "${a[2]}" 4
			le "${a[3]}" 4; le 0 4; le "${a[5]}" 8; le "${a[6]}" 8
			le "${a[7]}" 8; le 0 16 ;;
		B)	le "${a[1]}" 8; pad 56 0 ;;
		T)	le "${a[1]}" 8; le 7 2; pad 54 0 ;;
		esac
		pad $((rs - 64)) 170
	done
	printf '%b' "$bytes" >> "$f"
	bytes=
}

t_usage() {
	local args
	for args in "--no-such-option" "-d abc" "-d 1 -- true" "--global -- true" \
		"--global -p 1" "-p 1 -- true" "-p abc" "-p 1,,2" "--no-tree" \
		"-r 20" "-r 0 -- true" "-r 1001 -- true" "-r x -- true" \
		"--per-process --classic -- true"; do
		# shellcheck disable=SC2086
		[ "$(rc_of "$MONITOR" $args 2>/dev/null)" = 2 ] ||
			{ echo "monitor $args"; return 1; }
	done
	"$MONITOR" --help > "$tmp/help" || return 1
	for args in --pid --no-tree --rate --global --per-process --classic --csv \
		--json --syscalls kind,seq,jiffies,time_ns,pid,ppid,flags; do
		grep -q -- "$args" "$tmp/help" || { echo "--help lacks $args"; return 1; }
	done
}
check "monitor: bad options exit 2, --help describes the options" t_usage

t_work_usage() {
	local args
	for args in "" "0 R 1" "1025 R 1" "8 X 1" "8 R 0" "8 R x" "-1 R 5" "8 R 5 extra"; do
		# shellcheck disable=SC2086
		[ "$(rc_of "$WORK" $args 2>/dev/null)" = 2 ] || { echo "work $args"; return 1; }
	done
}
check "work: bad arguments exit 2" t_work_usage

t_nodev() {
	local rc
	rc=$(rc_of "$MONITOR" -D "$tmp/nonexistent" 2> "$tmp/err")
	cat "$tmp/err"
	[ "$rc" = 1 ] && grep -q 'is the mp3prof module loaded' "$tmp/err" &&
	rc=$(rc_of "$MONITOR" -D "$tmp/nonexistent" -- true 2> "$tmp/err") &&
	[ "$rc" = 1 ] && grep -q 'is the mp3prof module loaded' "$tmp/err"
}
check "monitor: missing device explains itself" t_nodev

t_version() {
	local v
	for v in 1 3; do
		fake_ring "$tmp/v" version=$v -- S,0 S,1 S,2 S,3
		[ "$(rc_of "$MONITOR" -D "$tmp/v" 2> "$tmp/err")" = 1 ] || return 1
		cat "$tmp/err"
		grep -q "ABI version $v not supported (this monitor knows 2)" "$tmp/err" || return 1
	done
}
check "monitor: refuses ABI versions 1 and 3" t_version

refused() { # refused WHY: the monitor refuses $tmp/bad, saying WHY
	[ "$(rc_of "$MONITOR" -D "$tmp/bad" 2> "$tmp/err")" = 1 ] && grep -q "$1" "$tmp/err" ||
		{ echo "not refused: $1"; cat "$tmp/err"; return 1; }
}
t_bad_header() {
	fake_ring "$tmp/bad" magic=1234 -- S,0 S,1 S,2 S,3
	refused 'bad magic' || return 1
	fake_ring "$tmp/bad" nr=3 -- S,0 S,1 S,2
	refused 'power of two' || return 1
	fake_ring "$tmp/bad" hs=64 -- S,0 S,1 S,2 S,3
	refused 'bad header size 64' || return 1
	fake_ring "$tmp/bad" rs=64 -- S,0 S,1 S,2 S,3
	printf '\040' | dd of="$tmp/bad" bs=1 seek=12 conv=notrunc 2> /dev/null # record_size 32
	refused 'bad record size 32' || return 1
	fake_ring "$tmp/bad" nr=4 -- S,0 S,1 # 2 of 4 records: the file is short
	refused 'truncated ring'
}
check "monitor: refuses bad magic, record count, sizes, short file" t_bad_header

PP_COLS=kind,seq,jiffies,time_ns,pid,ppid,flags,min_flt,maj_flt,cpu_ns,nr_procs,nr_exited,work_ns
CSV_COLS=seq,jiffies,time_ns,min_flt,maj_flt,cpu_ns,nr_procs,nr_exited,work_ns
CLASSIC=$'1003 13 3 2\n1004 14 4 2\n1005 15 5 2\nread 3 profiled data'
# head 6 in a 4-record ring: seqs 2..5 are in slots 2,3,0,1; slot 2 holds
# seq 99 (overwritten), so seq 2 is lost and 3, 4, 5 are printed.
fake_ring "$tmp/ring" head=6 -- S,4 S,5 B,99 S,3
t_fake_classic() {
	"$MONITOR" -D "$tmp/ring" --classic > "$tmp/out" 2> "$tmp/err"
	cat "$tmp/out" "$tmp/err"
	# 8 ms at HZ 250 = 2 jiffies each
	printf '%s\n' "$CLASSIC" | cmp - "$tmp/out" && grep -q 'lost 1 sample:' "$tmp/err"
}
check "monitor: fake ring, --classic, lost sample reported" t_fake_classic

t_fake_formats() {
	"$MONITOR" -D "$tmp/ring" --csv 2>/dev/null > "$tmp/csv"
	"$MONITOR" -D "$tmp/ring" --json 2>/dev/null > "$tmp/json"
	"$MONITOR" -D "$tmp/ring" 2>/dev/null > "$tmp/table"
	cat "$tmp/csv" "$tmp/json" "$tmp/table"
	[ "$(head -n 1 "$tmp/csv")" = "$CSV_COLS" ] &&
	[ "$(sed -n 2p "$tmp/csv")" = "3,1003,1150000000,13,3,8000000,1,0,1234" ] &&
	[ "$(wc -l < "$tmp/csv")" = 4 ] && [ "$(wc -l < "$tmp/json")" = 3 ] &&
	local json='{"seq":5,"jiffies":1005,"time_ns":1250000000,"min_flt":15,"maj_flt":5,'
	json+='"cpu_ns":8000000,"nr_procs":1,"nr_exited":0,"work_ns":1234}'
	grep -qxF "$json" "$tmp/json" &&
	grep -q '^# 3 samples, 1 lost, minor 42, major 12, cpu 24.000 ms$' "$tmp/table"
}
check "monitor: fake ring, --csv, --json and table" t_fake_formats

# The compatibility rule: a larger header and larger records (padding that
# must be skipped), unknown header flags and an unknown record type change
# nothing.
t_fake_compat() {
	local fmt
	fake_ring "$tmp/big" head=6 hs=8192 rs=128 flags=$((0xfff0)) -- S,4 S,5 B,99 S,3
	fake_ring "$tmp/typed" head=6 -- S,4 S,5 T,2 S,3
	for fmt in --csv --json --classic --table; do
		[ "$fmt" = --table ] && fmt=
		# shellcheck disable=SC2086
		"$MONITOR" -D "$tmp/ring" $fmt > "$tmp/a" 2> /dev/null
		# shellcheck disable=SC2086
		"$MONITOR" -D "$tmp/big" $fmt > "$tmp/b" 2> "$tmp/err" ||
			{ cat "$tmp/err"; return 1; }
		cmp "$tmp/a" "$tmp/b" || { echo "header/record size: $fmt differs"; return 1; }
		# shellcheck disable=SC2086
		"$MONITOR" -D "$tmp/typed" $fmt > "$tmp/c" 2> "$tmp/err"
		[ ! -s "$tmp/err" ] || { cat "$tmp/err"; return 1; }
		[ "$fmt" != --classic ] || printf '%s\n' "$CLASSIC" | cmp - "$tmp/c" || return 1
	done
}
check "monitor: larger header and records, unknown flags and record types ignored" t_fake_compat

# A per-process ring (flags SESSION | PER_PROCESS), head 9 in 8 slots:
# seqs 1..8.  Seq 1 is a record of sample 0, overwritten before we start
# (not a loss); sample 2 has records 3, 4; sample 5 has 6, 7, 8, and 7 is
# being rewritten: one lost record.
fake_ring "$tmp/pp" nr=8 head=9 flags=3 -- P,8,101,100,1,6,0,6000000 \
	P,1,99,0,0,1,1,1 S,2,2 P,3,100,0,0,5,1,3000000 P,4,101,100,8,7,1,5000000 \
	S,5,3 P,6,100,0,0,5,2,2000000 B,$BUSY
t_fake_per_process() {
	local csv
	"$MONITOR" -D "$tmp/pp" --per-process --csv > "$tmp/ppcsv" 2> "$tmp/err" || return 1
	cat "$tmp/ppcsv" "$tmp/err"
	csv="$PP_COLS
sample,2,1002,1100000000,0,0,0,12,2,8000000,2,0,1234
proc,2,1002,1100000000,100,0,0,5,1,3000000,0,0,0
proc,2,1002,1100000000,101,100,8,7,1,5000000,0,0,0
sample,5,1005,1250000000,0,0,0,15,5,8000000,3,0,1234
proc,5,1005,1250000000,100,0,0,5,2,2000000,0,0,0
proc,5,1005,1250000000,101,100,1,6,0,6000000,0,0,0"
	[ "$(cat "$tmp/ppcsv")" = "$csv" ] && grep -q 'lost 1 record:' "$tmp/err" || return 1
	"$MONITOR" -D "$tmp/pp" --per-process --json > "$tmp/ppjson" 2> /dev/null || return 1
	"$MONITOR" -D "$tmp/pp" --per-process > "$tmp/pptable" 2> /dev/null || return 1
	cat "$tmp/ppjson" "$tmp/pptable"
	local json='{"kind":"proc","seq":2,"jiffies":1002,"time_ns":1100000000,'
	json+='"pid":101,"ppid":100,"flags":8,"min_flt":7,"maj_flt":1,"cpu_ns":5000000}'
	grep -qxF "$json" "$tmp/ppjson" &&
	[ "$(grep -c '"kind":"sample"' "$tmp/ppjson")" = 2 ] &&
	[ "$(grep -c '"kind":"proc"' "$tmp/ppjson")" = 4 ] &&
	head -n 1 "$tmp/pptable" |
		grep -qE '^ +seq +time_s +pid +ppid +minor +major +cpu_ms +cpu_% +nprocs +flags$' &&
	sed '1d;$d' "$tmp/pptable" | awk 'NF != 10 { exit 1 }' &&
	grep -qE '^ +2 +0\.000 +101 +100 +7 +1 +5\.000 +10\.0 +- +new$' "$tmp/pptable" &&
	grep -qE ' 101 +100 .* exited$' "$tmp/pptable" &&
	tail -n 1 "$tmp/pptable" |
		grep -qx '# 2 samples, 1 lost, minor 27, major 7, cpu 16.000 ms, 4 process rows' &&
	# Without --per-process: the samples alone.
	[ "$("$MONITOR" -D "$tmp/pp" --csv 2> /dev/null | wc -l)" = 3 ]
}
check "monitor: fake per-process ring: --per-process CSV, JSON, table" t_fake_per_process

t_fake_refusals() {
	local rc
	rc=$(rc_of "$MONITOR" -D "$tmp/ring" --per-process 2> "$tmp/err")
	cat "$tmp/err"
	[ "$rc" = 1 ] && grep -q 'no per-process records' "$tmp/err" || return 1
	rc=$(rc_of "$MONITOR" -D "$tmp/ring" -f 2> "$tmp/err")
	cat "$tmp/err"
	[ "$rc" = 1 ] && grep -q 'cannot wait for new records' "$tmp/err" || return 1
	rc=$(rc_of "$MONITOR" -D "$tmp/ring" -- true 2> "$tmp/err")
	cat "$tmp/err"
	[ "$rc" = 1 ] && grep -q 'not an mp3prof device with sessions' "$tmp/err"
}
check "monitor: ring file: no --per-process, -f or session" t_fake_refusals

# ---------------------------------------------------------------- the driver
online=(
	"--classic -- work 8 R 2000"
	"lines of --classic"
	"sum of minor faults"
	"--csv -- work 4 L 1000"
	"--json -- work 4 R 1000"
	"default table -- work 4 R 1000"
	"ring contents without -f"
	"--global -d 1 --syscalls"
	"-f stops on SIGTERM"
	"exit status of the command"
	"SIGTERM is forwarded to the command"
	"follow keeps up with 2 works"
	"work runs and registers itself"
	"-- sleep 2 beside a registered busy loop"
	"whole tree vs bash's times"
	"a child reaped just before the exit"
	"--no-tree misses the child"
	"two concurrent monitors"
	"--per-process rows sum to the samples"
	"-p follows a running process"
	"--rate 100"
	"uid 65534 sees nothing of root's"
	"no process left registered"
)
if [ ! -e /dev/mp3prof ] || [ ! -e /proc/mp3prof/status ]; then
	for t in "${online[@]}"; do skip "$t" "mp3prof not loaded"; done
	echo "# $failed failed"
	[ "$n" = "$TOTAL" ] || echo "# ran $n tests, planned $TOTAL"
	[ "$failed" = 0 ]
	exit
fi
export WORK_ITER_SLEEP_MS=30 WORK_SEED=42

# col FILE NAME [KIND]: sum of column NAME of a monitor CSV over its sample
# rows (or its rows of KIND with --per-process), as an integer.
col() {
	awk -F, -v f="$2" -v k="${3:-sample}" '
		NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		!("kind" in c) || $c["kind"] == k { s += $c[f] }
		END { printf "%.0f\n", s }' "$1"
}
# times_ms FILE: the CPU time bash's "times" printed in FILE (own and
# children's, user and system: getrusage(), ms resolution), in ms.
times_ms() {
	awk '{ for (i = 1; i <= NF; i++) {
			split($i, t, "m"); sub("s", "", t[2]); s += t[1] * 60 + t[2] } }
		END { printf "%.0f\n", s * 1000 }' "$1"
}
# within GOT TRUTH PCT: |GOT - TRUTH| <= PCT % of TRUTH
within() {
	[ $((100 * $1)) -ge $(((100 - $3) * $2)) ] && [ $((100 * $1)) -le $(((100 + $3) * $2)) ]
}
# as_nobody CMD...: run CMD as uid 65534 (busybox su, as root no password)
as_nobody() { su -s /bin/sh -c 'cd / && exec "$0" "$@"' -- nobody "$@"; }
busy_loop() { # start a CPU-bound process; its pid in $busy
	sh -c 'while :; do :; done' &
	busy=$!
	busy_pids+=("$busy")
}
stop_busy() { kill "$busy"; wait "$busy" 2> /dev/null || true; }

rc=0
"$MONITOR" --classic -o "$tmp/classic" -- "$WORK" 8 R 2000 > "$tmp/work.out" 2> "$tmp/err" || rc=$?
if [ "$rc" = 0 ] && [ "$(grep -c 'iteration .*/20 done' "$tmp/work.out")" = 20 ]; then
	ok "--classic -- work 8 R 2000"
else
	not_ok "--classic -- work 8 R 2000 (status $rc)"; diag "$tmp/err" "$tmp/work.out"
fi
t_classic_lines() {
	local lines
	lines=$(wc -l < "$tmp/classic")
	tail -n 3 "$tmp/classic"
	[ "$lines" -ge 2 ] || return 1
	if head -n $((lines - 1)) "$tmp/classic" | grep -vqE '^[0-9]+ [0-9]+ [0-9]+ [0-9]+$'; then
		return 1
	fi
	tail -n 1 "$tmp/classic" | grep -qxE "read $((lines - 1)) profiled data"
}
check "lines of --classic" t_classic_lines
t_classic_sum() {
	local sum
	sum=$(awk 'NF == 4 { s += $2 } END { print s + 0 }' "$tmp/classic")
	echo "minor faults: $sum"
	[ "$sum" -ge $((8 * 256)) ]
}
check "sum of minor faults >= 8 MB of 4 KiB pages" t_classic_sum

t_csv() {
	"$MONITOR" --csv -o "$tmp/csv" -- "$WORK" 4 L 1000 > /dev/null || return 1
	head -n 3 "$tmp/csv"
	[ "$(head -n 1 "$tmp/csv")" = "$CSV_COLS" ] &&
	[ "$(wc -l < "$tmp/csv")" -ge 2 ] &&
	tail -n +2 "$tmp/csv" | awk -F, 'NF != 9 { exit 1 }
		{ for (i = 1; i <= 9; i++) if ($i !~ /^[0-9]+$/) exit 1 }' &&
	# 4 MB of fresh blocks, mostly touched by the 20% random writes
	awk -F, 'NR > 1 { s += $4 } END { print "minor faults: " s; exit !(s >= 512) }' "$tmp/csv"
}
check "--csv -- work 4 L 1000" t_csv

t_json() {
	local k
	"$MONITOR" --json -o "$tmp/json" -- "$WORK" 4 R 1000 > /dev/null || return 1
	head -n 2 "$tmp/json"
	[ "$(wc -l < "$tmp/json")" -ge 1 ] || return 1
	for k in seq jiffies time_ns min_flt maj_flt cpu_ns nr_procs nr_exited work_ns; do
		grep -vqE "\"$k\":[0-9]+[,}]" "$tmp/json" && { echo "key $k"; return 1; }
	done
	! grep -vqE '^\{("[a-z_]+":[0-9]+,){8}"[a-z_]+":[0-9]+\}$' "$tmp/json"
}
check "--json -- work 4 R 1000" t_json

t_table() {
	"$MONITOR" -o "$tmp/table" -- "$WORK" 4 R 1000 > /dev/null || return 1
	head -n 3 "$tmp/table"; tail -n 1 "$tmp/table"
	head -n 1 "$tmp/table" | grep -qE '^ +seq +time_s +minor +major +cpu_ms +cpu_% +nprocs$' &&
	sed '1d;$d' "$tmp/table" | awk 'NF != 7 { exit 1 }' &&
	tail -n 1 "$tmp/table" | grep -qE '^# [1-9][0-9]* samples, 0 lost'
}
check "default table -- work 4 R 1000" t_table

# work registers itself in the default session: its ring has the samples.
t_ring() {
	"$MONITOR" --csv > "$tmp/all"
	[ "$(wc -l < "$tmp/all")" -ge 20 ]
}
check "ring contents without -f (the default session)" t_ring

t_duration() {
	local start end
	"$WORK" 4 R 1000 > /dev/null &
	start=$(date +%s)
	"$MONITOR" --global -d 1 --csv --syscalls > "$tmp/dur" 2> "$tmp/err" || return 1
	end=$(date +%s)
	wait
	cat "$tmp/err"
	[ $((end - start)) -le 4 ] && [ "$(wc -l < "$tmp/dur")" -ge 2 ] &&
	grep -qE 'syscalls \(read/poll\) for [0-9]+ samples' "$tmp/err"
}
check "--global -d 1 --syscalls" t_duration

t_sigterm() {
	local pid rc=0
	"$MONITOR" -f > /dev/null &
	pid=$!
	sleep 0.5
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" = 0 ]
}
check "-f stops on SIGTERM" t_sigterm

t_status() {
	[ "$(rc_of "$MONITOR" -o /dev/null -- sh -c 'exit 3')" = 3 ] &&
	[ "$(rc_of "$MONITOR" -o /dev/null -- "$tmp/nonexistent" 2>/dev/null)" = 127 ]
}
check "exit status of the command" t_status

# The monitor survives SIGTERM, passes it on and exits with the command's
# status after printing its summary.
t_forward() {
	local mon rc=0 i
	"$MONITOR" -o "$tmp/fwd" -- sleep 30 &
	mon=$!
	for ((i = 0; i < 200; i++)); do # until a sample shows the command runs
		[ "$(wc -l < "$tmp/fwd" 2> /dev/null || echo 0)" -ge 2 ] && break
		sleep 0.05
	done
	kill -TERM "$mon"
	wait "$mon" || rc=$?
	cat "$tmp/fwd"
	[ "$rc" = 143 ] && tail -n 1 "$tmp/fwd" | grep -q '^# [0-9]* samples'
}
check "SIGTERM is forwarded to the command (status 143)" t_forward

t_follow2() {
	"$MONITOR" -f --csv -o "$tmp/two" &
	local mon=$!
	"$WORK" 4 R 500 > /dev/null & local w1=$!
	"$WORK" 4 L 500 > /dev/null & local w2=$!
	wait "$w1" "$w2"
	sleep 0.3
	kill -INT "$mon"; wait "$mon"
	awk -F, 'NR > 1 && $7 == 2 { two = 1 } END { exit !two }' "$tmp/two"
}
check "follow keeps up with 2 works (nr_procs 2 seen)" t_follow2

t_work() {
	# 2 s of iterations: still running when looked at
	WORK_ITER_SLEEP_MS=100 "$WORK" 2 L 100 > "$tmp/w" 2> "$tmp/err" &
	local pid=$!
	sleep 0.5
	grep -q "^$pid:" /proc/mp3prof/status || { echo "not registered"; return 1; }
	wait "$pid"
	! [ -s "$tmp/err" ] && grep -qx "\[$pid\] iteration 20/20 done" "$tmp/w"
}
check "work runs and registers itself" t_work

# What one exec'd sleep costs by itself (fork, exec, page faults, exit), as
# bash's "times" reports its children: a millisecond in a release guest,
# 50 to 150 ms in the debug guest (KASAN and lockdep under TCG, more when
# the host is busy).  The issue's bound for "-- sleep 2", < 5 ms, is for a
# guest where it costs under 2 ms; in any guest the seconds of the other
# processes must not appear: the sleep monitors must report less than a
# quarter of what the others used meanwhile (they would report more than
# all of it), and only one process in every sample.
sleep_cost=$(bash -c 'sleep 0; times' | sed -n 2p > "$tmp/sc" && times_ms "$tmp/sc")
fast_guest=false
[ "$sleep_cost" -ge 2 ] || fast_guest=true
echo "# an exec'd sleep costs $sleep_cost ms here; the 5 ms bound applies: $fast_guest"
# ticks PID: utime + stime of PID in clock ticks (USER_HZ, 100 a second)
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# sleep_ok CSV OTHER_MS: the sleep monitor's CSV shows sleep alone
sleep_ok() {
	local cpu
	cpu=$(col "$1" cpu_ns)
	[ $((4 * cpu / 1000000)) -lt "$2" ] || { echo "$cpu ns: others' work"; return 1; }
	! $fast_guest || [ "$cpu" -lt 5000000 ] || { echo "$cpu ns >= 5 ms"; return 1; }
	awk -F, 'NR > 1 && $7 != 1 { print "sample " $1 ": " $7 " processes"; bad = 1 }
		END { exit bad || NR < 2 }' "$1"
}

# Issue 11: "-- sleep 2" beside an unrelated registered busy loop reported
# the loop's 2 s.  A private session has sleep alone.
t_isolation() {
	local t0 loop
	busy_loop
	echo "R $busy" > /proc/mp3prof/status
	t0=$(ticks "$busy")
	"$MONITOR" --csv -o "$tmp/sleep.csv" -- sleep 2 || { stop_busy; return 1; }
	loop=$((($(ticks "$busy") - t0) * 10))
	stop_busy
	local us=$(($(col "$tmp/sleep.csv" cpu_ns) / 1000))
	echo "figure: -- sleep 2 beside a busy loop: $us us" \
		"CPU, $(col "$tmp/sleep.csv" min_flt) minor faults in" \
		"$(($(wc -l < "$tmp/sleep.csv") - 1)) samples; the loop used $loop ms meanwhile"
	sleep_ok "$tmp/sleep.csv" "$loop"
}
check "-- sleep 2 beside a registered busy loop: only sleep's CPU" t_isolation

# The whole tree: the shell's work is in its child dd.  The truth is what
# bash reports with "times" at its end: its own and its reaped children's
# CPU time (getrusage(), which the kernel computes from the same runtime
# the samples sum).  What the monitor sees and "times" does not: bash's
# exit after "times" (15 to 55 ms measured in the debug guest), and at
# most 1 ms of truncation per printed figure; the driver promises one tick
# per process.  The tree must take long enough for these to stay well
# under 5 %: dd of 1 MB blocks costs about 1.2 ms of CPU per MB in the
# debug guest (and forking it costs bash 300 to 500 ms there), so 1024
# blocks make a tree of about 2 s.
DD_COUNT=${DD_COUNT:-1024}
dd_cmd="dd if=/dev/zero of=/dev/null bs=1M count=$DD_COUNT 2> /dev/null; times"
t_tree() {
	local got truth count=$DD_COUNT _
	# A faster guest (release kernel) needs more blocks for 500 ms.
	for _ in 1 2 3; do
		"$MONITOR" --csv -o "$tmp/tree.csv" -- bash -c \
			"dd if=/dev/zero of=/dev/null bs=1M count=$count 2> /dev/null; times" \
			> "$tmp/tree.times" || return 1
		cat "$tmp/tree.times"
		got=$(($(col "$tmp/tree.csv" cpu_ns) / 1000000))
		truth=$(times_ms "$tmp/tree.times")
		echo "figure: -- bash -c 'dd ($count MB); times': monitor $got ms, times $truth ms"
		[ "$truth" -lt 500 ] || break
		count=$((count * 600 / (truth > 0 ? truth : 1) + 1))
	done
	[ "$truth" -ge 500 ] && within "$got" "$truth" 5
}
check "whole tree: -- bash -c 'dd; times' within 5 % of bash's times" t_tree

# The same with the worst timing for the end of the command: a child the
# driver has sampled is reaped by the command, which then exits before
# the next sample, so the monitor's REMOVE of the command comes while the
# reaped child's usage sits in the command's children counters and has
# not been accounted by a sample.  At 1 sample a second the command waits
# for the first sample (its busy child has run for a second by then), then
# ends and reaps the child and exits, all far less than a second later.
# The child must be counted once: within 5 % of "times", as above.
t_reap_remove() {
	local got truth
	: > "$tmp/rr.csv"
	"$MONITOR" --rate 1 --per-process --csv -o "$tmp/rr.csv" -- bash -c "
		sh -c 'while :; do :; done' & c=\$!
		until grep -q '^sample,' $tmp/rr.csv; do sleep 0.05; done
		kill \$c; wait \$c; times" > "$tmp/rr.times" || return 1
	cat "$tmp/rr.times" "$tmp/rr.csv"
	got=$(($(col "$tmp/rr.csv" cpu_ns) / 1000000))
	truth=$(times_ms "$tmp/rr.times")
	echo "figure: child reaped just before the exit: monitor $got ms, times $truth ms"
	[ "$truth" -ge 500 ] && within "$got" "$truth" 5
}
check "whole tree: a child reaped just before the command exits counts once" t_reap_remove

# --no-tree counts bash alone: its own CPU ("times" line 1) and its exit,
# within 5 % of the tree's total, and none of dd's (line 2), which must
# be most of the tree for this to mean something.
t_no_tree() {
	local got truth own
	"$MONITOR" --no-tree --csv -o "$tmp/notree.csv" -- bash -c "$dd_cmd" \
		> "$tmp/notree.times" || return 1
	cat "$tmp/notree.times"
	got=$(($(col "$tmp/notree.csv" cpu_ns) / 1000000))
	truth=$(times_ms "$tmp/notree.times")
	own=$(head -n 1 "$tmp/notree.times" > "$tmp/own" && times_ms "$tmp/own")
	echo "figure: --no-tree -- bash -c 'dd ...; times': monitor $got ms," \
		"bash alone $own ms, tree $truth ms"
	[ $((2 * own)) -lt "$truth" ] && [ $((100 * got)) -ge $((95 * own)) ] &&
	[ $((100 * got)) -le $((100 * own + 5 * truth)) ]
}
check "--no-tree counts bash alone, not its child dd" t_no_tree

# Issue 11: two monitors at once each reported the other's work.
t_two() {
	local a b got truth cpu rc=0
	"$MONITOR" --csv -o "$tmp/a.csv" -- sleep 2 & a=$!
	"$MONITOR" --csv -o "$tmp/b.csv" -- bash -c "$dd_cmd" > "$tmp/b.times" & b=$!
	wait "$a" || rc=$?
	wait "$b" || rc=$?
	[ "$rc" = 0 ] || return 1
	got=$(($(col "$tmp/b.csv" cpu_ns) / 1000000))
	truth=$(times_ms "$tmp/b.times")
	cpu=$(col "$tmp/a.csv" cpu_ns)
	echo "figure: concurrently: -- sleep 2 $((cpu / 1000)) us CPU," \
		"$(col "$tmp/a.csv" min_flt) minor faults; -- dd: monitor $got ms, times $truth ms"
	sleep_ok "$tmp/a.csv" "$truth" && within "$got" "$truth" 5
}
check "two concurrent monitors each report only their own command" t_two

# Per-process rows: each sample's rows add up to it exactly (the driver's
# promise), every process of the tree has rows, the descendants' first one
# is NEW, and each process's last row says why it ended.
t_per_process() {
	"$MONITOR" --per-process --csv -o "$tmp/pp.csv" -- sh -c \
		"$WORK 4 R 300 > /dev/null & $WORK 4 L 300 > /dev/null & wait" || return 1
	head -n 8 "$tmp/pp.csv"
	awk -F, 'NR == 1 { next }
		$1 == "sample" { s = $2; n[s] = $11; m[s] = $8; j[s] = $9; c[s] = $10; next }
		{ k[$2]++; m[$2] -= $8; j[$2] -= $9; c[$2] -= $10
		  if (!($5 in first)) { first[$5] = $7; par[$5] = $6 }
		  last[$5] = $7 }
		END {
			for (s in n) {
				samples++
				if (k[s] != n[s] || m[s] || j[s] || c[s])
					{ print "sample " s " does not add up"; bad = 1 }
			}
			for (p in first) {
				procs++; roots += !par[p]
				if (par[p] && !(first[p] % 16 >= 8))
					{ print "pid " p ": no NEW"; bad = 1 }
				if (!(last[p] % 4))
					{ print "pid " p ": last row not exited/removed"; bad = 1 }
			}
			printf "figure: --per-process: %d samples, %d processes (%d added)\n",
				samples, procs, roots
			exit bad || samples < 1 || procs != 3 || roots != 1
		}' "$tmp/pp.csv"
}
check "--per-process rows sum to the samples, NEW/EXITED flags" t_per_process

# -p: a process the monitor did not start, followed until it exits.  It
# waits for the monitor's first sample (so it is in the session), then
# runs dd between two "times": the monitor must count at least that
# (less 5 %), and at most the tree's whole life (plus 5 %).
t_pid() {
	local pid rc=0 got delta total
	: > "$tmp/p.csv"
	bash -c "until [ \"\$(wc -l < $tmp/p.csv)\" -ge 2 ]; do sleep 0.05; done
		times > $tmp/p.t0; $dd_cmd > $tmp/p.t1" &
	pid=$!
	timeout 60 "$MONITOR" --csv -o "$tmp/p.csv" -p "$pid" || rc=$?
	wait "$pid" || true
	[ "$rc" = 0 ] || { echo "monitor status $rc"; return 1; }
	got=$(($(col "$tmp/p.csv" cpu_ns) / 1000000))
	total=$(times_ms "$tmp/p.t1")
	delta=$((total - $(times_ms "$tmp/p.t0")))
	echo "figure: -p: monitor $got ms, dd part $delta ms, whole life $total ms"
	[ "$delta" -ge 200 ] && [ $((100 * got)) -ge $((95 * delta)) ] &&
	[ $((100 * got)) -le $((105 * total)) ]
}
check "-p follows a running process until it exits" t_pid

# --rate 100: the samples' own time stamps are 10 ms apart on average (a
# late sample skips its slot, so the mean can only grow; half of the slots
# would have to be skipped to reach 20 ms; the default rate gives 50 ms).
t_rate() {
	"$MONITOR" --rate 100 --csv -o "$tmp/rate.csv" -- sleep 0.5 || return 1
	awk -F, 'NR == 2 { t0 = $3 } NR > 2 { t = $3; k++ }
		END { mean = (t - t0) / k / 1e6
		      printf "figure: --rate 100: %d samples, %.2f ms apart\n", k + 1, mean
		      exit !(k >= 10 && mean >= 9 && mean < 20) }' "$tmp/rate.csv"
}
check "--rate 100 samples every 10 ms" t_rate

# Issue 11: uid 65534 saw root's processes.  In its own session it can
# add only its own processes (perf's rule: perf_event_paranoid 2, ptrace
# access), and its ring shows only them.  With paranoid 3 it may not
# profile at all, and the monitor says why.
t_nobody() {
	local rc dir=$tmp/nobody
	saved_paranoid=$(cat "$PARANOID")
	# nobody writes its output there and must reach it through $tmp
	mkdir "$dir" && chmod 1777 "$dir" && chmod 711 "$tmp"
	busy_loop
	echo "R $busy" > /proc/mp3prof/status
	echo 3 > "$PARANOID"
	rc=$(rc_of as_nobody "$MONITOR" -o /dev/null -- true 2> "$tmp/err")
	cat "$tmp/err"
	[ "$rc" = 1 ] && grep -q 'perf_event_paranoid is 3' "$tmp/err" || { stop_busy; return 1; }
	echo 2 > "$PARANOID"
	rc=$(rc_of as_nobody "$MONITOR" -o /dev/null -p "$busy" 2> "$tmp/err")
	cat "$tmp/err"
	[ "$rc" = 1 ] && grep -q "cannot profile pid $busy: Operation not permitted" "$tmp/err" ||
		{ stop_busy; return 1; }
	rc=$(rc_of as_nobody "$MONITOR" --per-process --csv -o "$dir/n.csv" -- \
		sh -c "echo \$\$ > $dir/pids; sleep 0.5 & echo \$! >> $dir/pids; wait")
	stop_busy
	echo "$saved_paranoid" > "$PARANOID"
	saved_paranoid=
	cat "$dir/pids" "$dir/n.csv"
	[ "$rc" = 0 ] || return 1
	# Every row is one of its two processes; never more than two at once.
	awk -F, 'NR == FNR { mine[$1] = 1; next }
		FNR == 1 { next }
		$1 == "proc" { rows++ }
		$1 == "proc" && !($5 in mine) { print "pid " $5 " is not ours"; bad = 1 }
		$1 == "sample" && $11 > 2 { print "sample " $2 ": " $11 " processes"; bad = 1 }
		END { exit bad || !rows }' "$dir/pids" "$dir/n.csv"
}
if [ "$(id -u)" = 0 ] && command -v su > /dev/null; then
	check "uid 65534 sees nothing of root's processes in its session" t_nobody
else
	skip "uid 65534 sees nothing of root's processes" "needs root and su"
fi

t_empty() {
	sleep 0.2
	cat /proc/mp3prof/status
	[ ! -s /proc/mp3prof/status ]
}
check "no process left registered in the default session" t_empty

echo "# $failed failed"
[ "$n" = "$TOTAL" ] || echo "# ran $n tests, planned $TOTAL"
[ "$failed" = 0 ]
