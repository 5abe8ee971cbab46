#!/bin/bash
# Runs in the debug or preempt guest (tooling/soak/run.sh): the soak-sized
# tests, then unload the module and collect kmemleak's report.  Logs go to
# /out/soak.
# Exit status: 0 if every test passed and the module unloaded.
set -u
cd /host || exit 1
mkdir -p /out/soak
rc=0

run() { # run NAME PROGRAM ARGS...: run a test program, log it, note failure
	local name=$1
	shift
	echo "=== $name: $*"
	"$@" > "/out/soak/$name.log" 2>&1
	local st=$?
	grep -E '^(ok|not ok|#.*mp3prof-|#  (RUN|FAIL|OK))' "/out/soak/$name.log"
	[ "$st" = 0 ] || { echo "=== $name failed (status $st)"; rc=1; }
}

# kmemleak reports only objects older than 5 s: start from a clean slate.
kl=/sys/kernel/debug/kmemleak
[ -e "$kl" ] && echo clear > "$kl"

run fuzz env MP3PROF_FUZZ_SOAK=1 MP3PROF_FUZZ_COUNT="$SOAK_FUZZ" \
	${SOAK_SEED:+MP3PROF_FUZZ_SEED=$SOAK_SEED} ./fuzz_test
run churn env MP3PROF_CHURN_COUNT="$SOAK_CHURN" ./churn_test -t register_and_exit
run reload env MP3PROF_RELOAD_COUNT="$SOAK_RELOADS" MP3PROF_KO=/lib/modules/mp3prof.ko \
	./reload_test -t unload_load_loop

rmmod mp3prof
echo $? > /out/soak/rmmod.status
[ "$(cat /out/soak/rmmod.status)" = 0 ] || rc=1
if [ -e "$kl" ]; then
	sleep 6
	echo scan > "$kl"
	sleep 2
	echo scan > "$kl"
	cat "$kl" > /out/soak/kmemleak.txt
	echo "=== kmemleak: $(grep -c '^unreferenced object' /out/soak/kmemleak.txt) leaks"
else
	echo "=== no kmemleak in this kernel" | tee /out/soak/kmemleak.txt
fi
exit $rc
