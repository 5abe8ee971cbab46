#!/usr/bin/env bash
# Every patch of the series builds on its own with CONFIG_MP3PROF=m (the
# guest's release config), and at the end of the series the driver is
# clean under W=1 and sparse (C=2).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

wt=$(scratch_worktree check-bisect)
am_series "$wt"
out=$CACHE/build/bisect
mkdir -p "$CCACHE_DIR"

for c in $(git -C "$wt" rev-list --reverse pristine..HEAD); do
	subject=$(git -C "$wt" log -1 --format=%s "$c")
	git -C "$wt" checkout -q --detach "$c"
	say "building: $subject"
	configure_build "$wt" "$out"
	if [ -f "$wt/drivers/misc/mp3prof/Kconfig" ]; then
		grep -qx 'CONFIG_MP3PROF=m' "$out/.config" || die "$subject: CONFIG_MP3PROF=m not set"
	fi
	make -s -C "$wt" O="$out" "${KMAKE_ARGS[@]}" -j"$(nproc)" bzImage modules ||
		die "build failed at: $subject"
	echo "ok: $subject"
done

say "W=1 C=2 on drivers/misc/mp3prof"
log=$(make -s -C "$wt" O="$out" "${KMAKE_ARGS[@]}" W=1 C=2 drivers/misc/mp3prof/ 2>&1)
if grep -E 'warning|error' <<<"$log"; then
	die "W=1 or sparse complained about drivers/misc/mp3prof"
fi
echo "W=1 and sparse: no warnings"
