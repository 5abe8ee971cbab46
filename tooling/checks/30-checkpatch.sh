#!/usr/bin/env bash
# checkpatch --strict: no errors, warnings or checks on any patch.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=${MP3PROF_SRC:-$(src_dir)}
bad=0
while read -r p; do
	k=$(key checkpatch "$PATCHES/$p" "$src/scripts/checkpatch.pl" "$src/scripts/spelling.txt")
	if passed "$k"; then
		echo "$p: unchanged since it passed"
		continue
	fi
	# spdxcheck.py needs Debian's python3 (python3-ply, python3-git), not another one on PATH.
	out=$(cd "$src" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict --color=never "$PATCHES/$p" || true)
	total=$(grep '^total:' <<<"$out")
	echo "$p: $total"
	if grep -q Traceback <<<"$out"; then
		echo "$out"
		bad=1
	elif ! grep -q ' 0 errors, 0 warnings, 0 checks,' <<<"$total"; then
		echo "$out" | grep -E -A6 '^(ERROR|WARNING|CHECK)'
		bad=1
	else
		mark_passed "$k"
	fi
done < <(series_patches)
exit $bad
