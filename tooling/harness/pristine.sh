#!/usr/bin/env bash
# Ensure the pristine kernel git repo exists in the cache and print its path.
# The repo has one deterministic commit, tagged "pristine", holding the
# unpacked Debian linux-source-6.12 tarball.  Usable by other tooling:
#   repo=$(tooling/harness/pristine.sh)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

repo=$CACHE/linux
if [ ! -d "$repo/.git" ]; then
	[ -f "$TARBALL" ] || die "$TARBALL missing (apt-get install linux-source-6.12)"
	tmp=$CACHE/linux.tmp
	rm -rf "$tmp" && mkdir -p "$tmp"
	say "unpacking $TARBALL"
	tar -xf "$TARBALL" -C "$tmp" --strip-components=1
	ver=$(make -s -C "$tmp" kernelversion 2>/dev/null)
	say "committing pristine Linux $ver"
	export GIT_AUTHOR_NAME=mp3prof GIT_AUTHOR_EMAIL=mp3prof@localhost
	export GIT_COMMITTER_NAME=mp3prof GIT_COMMITTER_EMAIL=mp3prof@localhost
	export GIT_AUTHOR_DATE=2025-01-01T00:00:00Z GIT_COMMITTER_DATE=2025-01-01T00:00:00Z
	git -C "$tmp" init -q
	git -C "$tmp" config core.autocrlf false
	git -C "$tmp" config gc.auto 0
	git -C "$tmp" add -f -A
	git -C "$tmp" -c commit.gpgsign=false commit -q --no-verify \
		-m "Linux $ver (Debian linux-source-6.12)"
	git -C "$tmp" tag pristine
	mv "$tmp" "$repo"
fi
echo "$repo"
