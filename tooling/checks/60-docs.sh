#!/usr/bin/env bash
# The admin-guide page renders without warnings (Sphinx, as "make htmldocs
# SPHINXDIRS=admin-guide" runs it) and the ABI entries parse.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=${MP3PROF_SRC:-$(src_dir)}
out=$CACHE/build/htmldocs
say "make htmldocs SPHINXDIRS=admin-guide"
make -C "$src" O="$out" SPHINXDIRS=admin-guide htmldocs >"$out.log" 2>&1 ||
	{ tail -n 30 "$out.log"; die "htmldocs failed"; }
# The rest of admin-guide has warnings of its own: only ours count.
# (match our file names, not the cache path, which may say mp3prof too)
# With SPHINXDIRS=admin-guide the Sphinx root is admin-guide/, so the ABI
# entries' "See Documentation/admin-guide/mp3prof.rst" (a link to
# /admin-guide/mp3prof in the full build) cannot resolve here; that the
# page exists and renders is checked below.  Sphinx reads only changed
# files, so a warm run repeats a file's warnings only when it changes.
if grep -E '(admin-guide/mp3prof\.rst|uapi/linux/mp3prof\.h|ABI/testing/[a-z]+-mp3prof)' "$out.log" |
	grep -Ei 'warning|error' |
	grep -vE "ABI/testing/[a-z]+-mp3prof:[0-9]+: WARNING: unknown document: '/admin-guide/mp3prof'"; then
	die "Sphinx warnings in the mp3prof documentation"
fi
grep -q 'See Documentation/admin-guide/mp3prof.rst' "$src/Documentation/ABI/testing/dev-mp3prof" ||
	die "dev-mp3prof no longer points to the admin guide: review the filter above"
[ -s "$out/Documentation/output/admin-guide/mp3prof.html" ] || die "mp3prof.html not rendered"
echo "admin-guide/mp3prof.rst: rendered without warnings"

log=$(cd "$src" && scripts/get_abi.pl validate --dir Documentation/ABI/testing 2>&1 | grep -i mp3prof || true)
if [ -n "$log" ]; then
	echo "$log"
	die "ABI documentation problems"
fi
for f in procfs-mp3prof dev-mp3prof; do
	(cd "$src" && scripts/get_abi.pl search --dir Documentation/ABI/testing "$(head -n1 "Documentation/ABI/testing/$f" | sed 's/^What:[[:space:]]*//')") |
		grep -q "$f" || die "get_abi.pl does not find $f"
done
echo "ABI entries: valid and found by get_abi.pl"
