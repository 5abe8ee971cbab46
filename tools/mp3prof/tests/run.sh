#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of mp3prof-monitor and work; TAP on stdout.
#
# The tests that need the driver run when /dev/mp3prof exists (and are
# skipped otherwise); the others use fake ring files and run anywhere.
# The programs are taken from $MONITOR and $WORK, else from the directory
# of this script if built there, else from PATH.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pick() { # pick NAME: path of program NAME
	if [ -x "$here/../$1" ]; then echo "$here/../$1"; else command -v "$1" || echo "$1"; fi
}
MONITOR=${MONITOR:-$(pick mp3prof-monitor)}
WORK=${WORK:-$(pick work)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0 failed=0
TOTAL=20
echo "TAP version 13"
echo "1..$TOTAL"
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
diag() { sed 's/^/# /' "$@"; }
check() { # check NAME CMD...: ok if CMD succeeds
	local name=$1; shift
	if "$@" > "$tmp/check.log" 2>&1; then
		ok "$name"
	else
		not_ok "$name"
		diag "$tmp/check.log"
	fi
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
# fake_ring FILE MAGIC VERSION NR_RECORDS HEAD SEQ...: header page, then
# one 64-byte record per SEQ (slot order): jiffies 1000+SEQ, time
# 1 s + SEQ * 50 ms, minor 10+SEQ, major SEQ, cpu 8 ms.
fake_ring() {
	local f=$1 magic=$2 version=$3 nr=$4 head=$5 seq bytes=
	shift 5
	le "$magic" 4; le "$version" 4; le 4096 4; le 64 4; le "$nr" 4
	le 20 4; le 250 4; le 0 4; le 50000000 8; le "$head" 8; le 0 8
	printf '%b' "$bytes" > "$f"
	head -c $((4096 - 56)) /dev/zero >> "$f"
	bytes=
	for seq; do
		# seq jiffies time_ns min maj cpu_ns(8 ms) procs exited work
		le "$seq" 8; le $((1000 + seq)) 8; le $((1000000000 + seq * 50000000)) 8
		le $((10 + seq)) 8; le "$seq" 8; le 8000000 8
		le 1 4; le 0 4; le 1234 8
	done
	printf '%b' "$bytes" >> "$f"
}
MAGIC=$((0x4d503350))

t_usage() {
	[ "$(rc_of "$MONITOR" --no-such-option)" = 2 ] &&
	[ "$(rc_of "$MONITOR" -d abc)" = 2 ] &&
	[ "$(rc_of "$MONITOR" -d 1 -- true)" = 2 ] &&
	"$MONITOR" --help | grep -q -- '--classic'
}
check "monitor: bad options exit 2, --help" t_usage

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
	[ "$rc" = 1 ] && grep -q 'is the mp3prof module loaded' "$tmp/err"
}
check "monitor: missing device explains itself" t_nodev

t_version() {
	fake_ring "$tmp/v2" "$MAGIC" 2 4 0 0 0 0 0
	[ "$(rc_of "$MONITOR" -D "$tmp/v2" 2> "$tmp/err")" = 1 ] &&
	grep -q 'ABI version 2 not supported (this monitor knows 1)' "$tmp/err"
}
check "monitor: refuses unknown ABI version" t_version

t_magic() {
	fake_ring "$tmp/bad" 1234 1 4 0 0 0 0 0
	[ "$(rc_of "$MONITOR" -D "$tmp/bad" 2> "$tmp/err")" = 1 ] &&
	grep -q 'bad magic' "$tmp/err" &&
	fake_ring "$tmp/bad" "$MAGIC" 1 3 0 0 0 0 &&
	[ "$(rc_of "$MONITOR" -D "$tmp/bad" 2> "$tmp/err")" = 1 ] &&
	grep -q 'power of two' "$tmp/err"
}
check "monitor: refuses bad magic and record count" t_magic

# head 6 in a 4-record ring: seqs 2..5 are in slots 2,3,0,1; slot 2 holds
# seq 99 (overwritten), so seq 2 is lost and 3, 4, 5 are printed.
fake_ring "$tmp/ring" "$MAGIC" 1 4 6 4 5 99 3
t_fake_classic() {
	"$MONITOR" -D "$tmp/ring" --classic > "$tmp/out" 2> "$tmp/err"
	cat "$tmp/out" "$tmp/err"
	# 8 ms at HZ 250 = 2 jiffies each
	printf '1003 13 3 2\n1004 14 4 2\n1005 15 5 2\nread 3 profiled data\n' |
		cmp - "$tmp/out" && grep -q 'lost 1 sample' "$tmp/err"
}
check "monitor: fake ring, --classic, lost sample reported" t_fake_classic

t_fake_formats() {
	"$MONITOR" -D "$tmp/ring" --csv 2>/dev/null > "$tmp/csv"
	"$MONITOR" -D "$tmp/ring" --json 2>/dev/null > "$tmp/json"
	"$MONITOR" -D "$tmp/ring" 2>/dev/null > "$tmp/table"
	cat "$tmp/csv" "$tmp/json" "$tmp/table"
	[ "$(sed -n 2p "$tmp/csv")" = "3,1003,1150000000,13,3,8000000,1,0,1234" ] &&
	[ "$(wc -l < "$tmp/csv")" = 4 ] && [ "$(wc -l < "$tmp/json")" = 3 ] &&
	local json='{"seq":5,"jiffies":1005,"time_ns":1250000000,"min_flt":15,"maj_flt":5,'
	json+='"cpu_ns":8000000,"nr_procs":1,"nr_exited":0,"work_ns":1234}'
	grep -qxF "$json" "$tmp/json" &&
	grep -q '^# 3 samples, 1 lost, minor 42, major 12, cpu 24.000 ms$' "$tmp/table"
}
check "monitor: fake ring, --csv, --json and table" t_fake_formats

# ---------------------------------------------------------------- the driver
online=(
	"--classic -- work 8 R 2000"
	"--csv -- work 4 L 1000"
	"--json -- work 4 R 1000"
	"default table -- work 4 R 1000"
	"ring contents without -f"
	"-f -d 1 --syscalls"
	"-f stops on SIGTERM"
	"exit status of the command"
	"lines of --classic"
	"sum of minor faults"
	"follow keeps up with 2 works"
	"status file empty afterwards"
	"work runs and registers itself"
)
if [ ! -e /dev/mp3prof ] || [ ! -e /proc/mp3prof/status ]; then
	for t in "${online[@]}"; do skip "$t" "mp3prof not loaded"; done
	echo "# $failed failed"
	[ "$failed" = 0 ]
	exit
fi
export WORK_ITER_SLEEP_MS=30 WORK_SEED=42

# 1 + 9 + 10: classic mode
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
	local cols=seq,jiffies,time_ns,min_flt,maj_flt,cpu_ns,nr_procs,nr_exited,work_ns

	[ "$(head -n 1 "$tmp/csv")" = "$cols" ] &&
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

t_ring() {
	"$MONITOR" --csv > "$tmp/all"
	[ "$(wc -l < "$tmp/all")" -ge 20 ]
}
check "ring contents without -f" t_ring

t_duration() {
	local start end
	"$WORK" 4 R 1000 > /dev/null &
	start=$(date +%s)
	"$MONITOR" -f -d 1 --csv --syscalls > "$tmp/dur" 2> "$tmp/err" || return 1
	end=$(date +%s)
	wait
	cat "$tmp/err"
	[ $((end - start)) -le 4 ] && [ "$(wc -l < "$tmp/dur")" -ge 2 ] &&
	grep -qE 'syscalls \(read/poll\) for [0-9]+ samples' "$tmp/err"
}
check "-f -d 1 --syscalls" t_duration

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

t_empty() {
	sleep 0.2
	cat /proc/mp3prof/status
	[ ! -s /proc/mp3prof/status ]
}
check "status file empty afterwards" t_empty

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

echo "# $failed failed"
[ "$n" = "$TOTAL" ] || echo "# ran $n tests, planned $TOTAL"
[ "$failed" = 0 ]
