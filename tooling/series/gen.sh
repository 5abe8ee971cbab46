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
# commit message.  Dates are fixed, so the output is byte-identical from
# run to run.
#
# Who the series is from (author, Signed-off-by and the MAINTAINERS M:
# line the .diff files give as "mp3prof developers <mp3prof@example.org>"):
# the git identity of whoever runs this (git config user.name and
# user.email), or that placeholder, with a warning, when there is none.
# With --check it is whoever the committed series is from, so that every
# machine regenerates it byte for byte.  Every message is addressed To:
# the maintainers scripts/get_maintainer.pl names for the series (but
# the series' own author) and Cc: its lists and linux-api, which
# Documentation/process/submitting-patches.rst asks for on new user ABI.
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

# Who the series is from (see above), and when: fixed so that hashes never change.
placeholder="mp3prof developers <mp3prof@example.org>"
if [ -n "$check" ] && from=$(series_from); then
	say "series from $from (as committed)"
else
	from_name=$(git -C "$ROOT" config user.name || true)
	from_email=$(git -C "$ROOT" config user.email || true)
	if [ -n "$from_name" ] && [ -n "$from_email" ]; then
		from="$from_name <$from_email>"
	else
		warn "no git identity (git config user.name, user.email): the series is from the placeholder $placeholder"
		from=$placeholder
	fi
	say "series from $from"
fi
from_name=${from% <*} from_email=${from##*<} from_email=${from_email%>}
export GIT_AUTHOR_NAME=$from_name GIT_AUTHOR_EMAIL=$from_email
export GIT_COMMITTER_NAME=$from_name GIT_COMMITTER_EMAIL=$from_email
export GIT_AUTHOR_DATE="2026-11-22T00:00:00Z" GIT_COMMITTER_DATE="2026-11-22T00:00:00Z"
g() { git -C "$work" -c core.autocrlf=false -c commit.gpgsign=false "$@"; }

# The .diff files with the placeholder's MAINTAINERS M: line (added or as
# context) naming who the series is from instead.
diffs=$CACHE/gen-diffs
rm -rf "$diffs" && mkdir -p "$diffs"
grep -qxF "+M:	$placeholder" "$here"/*.diff ||
	die "no '+M:	$placeholder' line in $here/*.diff to name $from in"
for d in "$here"/*.diff; do
	OLD="M:	$placeholder" NEW="M:	$from" awk '
		substr($0, 1, 1) ~ /[ +-]/ && substr($0, 2) == ENVIRON["OLD"] {
			$0 = substr($0, 1, 1) ENVIRON["NEW"]
		}
		{ print }' "$d" >"$diffs/${d##*/}"
done

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
	if [ -f "$diffs/$name.diff" ]; then
		g apply --index --whitespace=error-all "$diffs/$name.diff"
	fi
	g commit -q -s --no-verify -F "$here/$name.msg"
done

# The cover letter: its first line is the subject, the rest the body.
g config branch.mp3prof.description "$(cat "$here/cover-letter.txt")"

# Recipients: what get_maintainer.pl names for the whole series, in this
# tree (pristine + series), without git history.
say "recipients (scripts/get_maintainer.pl)"
g format-patch -q --stdout pristine..mp3prof >"$diffs/series.mbox"
gm() { (cd "$work" && scripts/get_maintainer.pl --no-git --no-git-fallback --no-rolestats "$@" "$diffs/series.mbox"); }
mapfile -t to < <(gm --m --no-r --no-l | grep -vF "<$from_email>")
mapfile -t cc < <({ gm --no-m --r --l; echo linux-api@vger.kernel.org; } | awk '!seen[$0]++')
[ ${#to[@]} -gt 0 ] || die "get_maintainer.pl names no maintainer for the series"

rm -rf "$out/patches.new"
g format-patch -q --cover-letter --cover-from-description=subject \
	--base=pristine --no-signature --zero-commit \
	"${to[@]/#/--to=}" "${cc[@]/#/--cc=}" \
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
