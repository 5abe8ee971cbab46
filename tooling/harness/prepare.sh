#!/usr/bin/env bash
# Ensure the pristine repo exists, then apply the patch series so that
# $CACHE/linux holds pristine + series.  Patches are applied with "git am" in
# the separate worktree $CACHE/am; the main worktree is then moved to the
# result with "git checkout", which only touches files that differ, so
# incremental kernel builds stay incremental.  Skipped when KDIR is set.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -n "${KDIR:-}" ]; then
	say "KDIR=$KDIR: using it as source (series assumed applied)"
	exit 0
fi

repo=$("$HARNESS/pristine.sh")
am=$CACHE/am
stamp=$CACHE/applied.stamp

mapfile -t names < <(series_patches)
# Hash of the series: patch names and contents, plus the pristine commit.
hash=$( {
	git -C "$repo" rev-parse pristine
	for p in "${names[@]}"; do
		[ -f "$PATCHES/$p" ] || die "series lists $p but $PATCHES/$p is missing"
		echo "$p"; sha256sum < "$PATCHES/$p"
	done
} | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash $(git -C "$repo" rev-parse HEAD)" ]; then
	say "series unchanged (${#names[@]} patches), not reapplying"
	exit 0
fi

if [ ! -d "$am" ]; then
	git -C "$repo" worktree prune
	git -C "$repo" worktree add -q --detach "$am" pristine
fi

say "applying ${#names[@]} patches from $SERIES"
export GIT_COMMITTER_NAME=mp3prof GIT_COMMITTER_EMAIL=mp3prof@localhost
export GIT_COMMITTER_DATE=2025-01-01T00:00:00Z
git -C "$am" am --abort >/dev/null 2>&1 || true
git -C "$am" reset -q --hard pristine
git -C "$am" clean -fdxq
for p in "${names[@]}"; do
	echo "    $p" >&2
	if ! git -C "$am" am -q --committer-date-is-author-date "$PATCHES/$p"; then
		git -C "$am" am --abort >/dev/null 2>&1 || true
		die "patch $p does not apply (see git am output above)"
	fi
done

head=$(git -C "$am" rev-parse HEAD)
git -C "$repo" checkout -q -f --detach "$head"
echo "$hash $head" > "$stamp"
say "source tree $repo at $(git -C "$repo" log --oneline -1 HEAD)"
