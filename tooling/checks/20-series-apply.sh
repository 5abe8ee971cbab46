#!/usr/bin/env bash
# The series applies to pristine 6.12.117 with git am and with quilt, with
# no fuzz, and the result holds exactly the repository's kernel files.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

wt=$(scratch_worktree check-apply)
say "git am the series onto pristine"
am_series "$wt"

added=$(git -C "$wt" diff --name-only --diff-filter=A pristine HEAD | sort)
want=$(repo_kernel_files | sort)
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
