# Count kselftest results in the output of run_kselftest.sh.
# A program's individual test cases ("# ok N name", one level of nesting, as
# printed by kselftest_harness.h / ksft_test_result_*) are counted when it
# prints any; otherwise its top-level "ok N selftests: T: prog" line counts.
# A program whose top-level line says "not ok" (crash, timeout, bad exit)
# while none of its cases failed adds one failure.  SKIP and XFAIL count as
# passed.  Prints "pass fail skip programs", then one "FAIL name" per failure.
function skipped(line) { return toupper(line) ~ /# *SKIP/ }
/^# (not )?ok [0-9]+/ {
	line = substr($0, 3)
	name = line; sub(/^(not )?ok [0-9]+ -? ?/, "", name); sub(/ *#.*/, "", name)
	ncases++
	if (line ~ /^not ok/ && toupper(line) !~ /# *TODO/) { cfail++; cfails[cfail] = name }
	else if (skipped(line)) cskip++
	else cpass++
	next
}
/^(not )?ok [0-9]+ / {
	prog = $0; sub(/^(not )?ok [0-9]+ (selftests: )?/, "", prog); sub(/ *#.*/, "", prog)
	progs++
	if (ncases > 0) {
		pass += cpass; skip += cskip; fail += cfail
		for (i = 1; i <= cfail; i++) fails[++nf] = prog ": " cfails[i]
		if ($0 ~ /^not ok/ && cfail == 0 && !skipped($0)) {
			fail++; fails[++nf] = prog " (program failed: " substr($0, index($0, "#")) ")"
		}
	} else if ($0 ~ /^not ok/) {
		fail++; fails[++nf] = prog
	} else if (skipped($0)) {
		skip++
	} else {
		pass++
	}
	ncases = cpass = cfail = cskip = 0
	next
}
END {
	print pass + skip, fail, skip, progs + 0
	for (i = 1; i <= nf; i++) print "FAIL " fails[i]
}
