#!/usr/bin/env bash
# Generate patches/ and series from the repository's kernel-tree files.
#
#   gen.sh            rewrite patches/ and series
#   gen.sh --check    regenerate into a scratch directory and fail if the
#                     committed patches/ or series differ
#   gen.sh --out DIR  write DIR/patches and DIR/series instead
#
# Each line of ./steps becomes one commit on top of the pristine 6.12 tree:
# the listed repository paths are copied in, <name>.diff (the hunks that
# hook them into existing kernel files) is applied, and <name>.msg is the
# commit message.  Author and dates are fixed, so the output is
# byte-identical from run to run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../harness/lib.sh"

out=$ROOT check=
case "${1:-}" in
--check) check=1 out=$(mktemp -d) ;;
--out) out=$2 ;;
"") ;;
*) die "usage: gen.sh [--check | --out DIR]" ;;
esac

pristine=$("$HARNESS/pristine.sh")
work=$CACHE/gen
if [ ! -e "$work/.git" ]; then
	say "creating series worktree $work"
	git -C "$pristine" worktree prune
	git -C "$pristine" worktree add -q --detach "$work" pristine
fi

# Who the series is from, and when: fixed so that hashes never change.
export GIT_AUTHOR_NAME="mp3prof developers" GIT_AUTHOR_EMAIL="mp3prof@example.org"
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
export GIT_AUTHOR_DATE="2026-11-22T00:00:00Z" GIT_COMMITTER_DATE="2026-11-22T00:00:00Z"
g() { git -C "$work" -c core.autocrlf=false -c commit.gpgsign=false "$@"; }

g checkout -q -f -B mp3prof pristine
g clean -q -fdx

# Repository files under a path: tracked ones plus new ones not ignored.
repo_files() {
	git -C "$ROOT" ls-files --cached --others --exclude-standard -- "$@" |
		while read -r f; do [ -f "$ROOT/$f" ] && echo "$f"; done
}

grep -v -e '^#' -e '^[[:space:]]*$' "$here/steps" | while read -r name paths; do
	say "patch $name"
	[ -f "$here/$name.msg" ] || die "$name.msg missing"
	if [ -n "$paths" ]; then
		# shellcheck disable=SC2086
		files=$(repo_files $paths)
		[ -n "$files" ] || die "$name: no files under: $paths"
		for f in $files; do
			mkdir -p "$work/$(dirname "$f")"
			cp "$ROOT/$f" "$work/$f"
		done
		# shellcheck disable=SC2086
		g add -f -- $files
	fi
	if [ -f "$here/$name.diff" ]; then
		g apply --index --whitespace=error-all "$here/$name.diff"
	fi
	g commit -q -s --no-verify -F "$here/$name.msg"
done

# The cover letter: its first line is the subject, the rest the body.
g config branch.mp3prof.description "$(cat "$here/cover-letter.txt")"

rm -rf "$out/patches.new"
g format-patch -q --cover-letter --cover-from-description=subject \
	--base=pristine --no-signature --zero-commit \
	-o "$out/patches.new" pristine..mp3prof >/dev/null
rm -rf "$out/patches" && mv "$out/patches.new" "$out/patches"
(cd "$out/patches" && printf '%s\n' *.patch | grep -v '^0000-cover-letter') >"$out/series"

if [ -n "$check" ]; then
	if diff -ru "$ROOT/patches" "$out/patches" && diff -u "$ROOT/series" "$out/series"; then
		rm -rf "$out"
		echo "patches/ and series are in sync with the tree"
	else
		rm -rf "$out"
		die "patches/ or series are stale: run 'make patches' and commit"
	fi
else
	say "wrote $(wc -l <"$out/series") patches and a cover letter to $out/patches"
fi
