#!/usr/bin/env bash
# The series applies to pristine 6.12.117 with git am and with quilt, with
# no fuzz, and the result holds exactly the repository's kernel files, all
# of them files a reviewer expects: no dotfile but .gitignore, no empty
# file, no editor or patch leftover, no build product or other binary.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# unexpected DIR FILE...: "FILE: why" for each FILE (relative to DIR) that
# has no place in a kernel patch, such as checkpatch's
# .checkpatch-camelcase.* cache, an editor's swap file or a stray object.
unexpected() {
	local dir=$1 f why
	shift
	for f; do
		why=
		case "/$f" in
		*/.gitignore) ;;
		*/.*) why="dotfile" ;;
		esac
		case "${f##*/}" in
		*~ | *.swp | *.swo | *.orig | *.rej | *.bak | \#*\#) why="editor or patch leftover" ;;
		*.o | *.ko | *.a | *.so | *.mod | *.mod.c | *.cmd | *.d | *.order | Module.symvers | *.pyc)
			why="build product" ;;
		esac
		if [ -z "$why" ] && [ ! -s "$dir/$f" ]; then
			why="empty file"
		elif [ -z "$why" ] && ! grep -qI '' "$dir/$f"; then
			why="binary file (a build product?)"
		fi
		[ -z "$why" ] || echo "$f: $why"
	done
}

wt=$(scratch_worktree check-apply)
say "git am the series onto pristine"
am_series "$wt"

added=$(git -C "$wt" diff --name-only --diff-filter=A pristine HEAD | sort)
want=$(repo_kernel_files | sort)
# shellcheck disable=SC2086 # one path a word, as below
bad=$( { unexpected "$ROOT" $want; unexpected "$wt" $added; } | sort -u)
if [ -n "$bad" ]; then
	echo "files a reviewer does not expect, in the repository's kernel paths or the series:"
	echo "$bad"
	exit 1
fi
echo "no dotfiles, empty, leftover, build product or binary files among the $(echo "$want" | wc -l) files"
if [ "$added" != "$want" ]; then
	echo "files the series adds differ from the repository's kernel files:"
	diff <(echo "$want") <(echo "$added") || true
	exit 1
fi
for f in $want; do
	cmp -s "$ROOT/$f" "$wt/$f" || die "$f differs after git am"
done
echo "git am: $(series_patches | wc -l) patches, $(echo "$want" | wc -l) files identical to the repository"

say "quilt push -a --fuzz=0 onto pristine"
git -C "$wt" checkout -q -f --detach pristine
git -C "$wt" clean -q -fdx
mkdir -p "$wt/patches"
cp "$PATCHES"/*.patch "$wt/patches/"
cp "$SERIES" "$wt/patches/series"
log=$(cd "$wt" && QUILT_PATCHES=patches QUILT_PC=.pc quilt push -a --fuzz=0 2>&1) || {
	echo "$log"
	die "quilt push failed"
}
if grep -E '^Hunk #[0-9]+ succeeded at [0-9]+ (with fuzz|\(offset)' <<<"$log"; then
	die "quilt applied with fuzz or offsets"
fi
for f in $want; do
	cmp -s "$ROOT/$f" "$wt/$f" || die "$f differs after quilt push"
done
echo "quilt: applied cleanly"
git -C "$wt" checkout -q -f --detach pristine
git -C "$wt" clean -q -fdx
