#!/usr/bin/env bash
# Every patch of the series builds on its own with CONFIG_MP3PROF=m (the
# guest's release config), and at the end of the series the driver is
# clean under W=1 and sparse (C=2).  A commit whose tree already built here
# (same tree hash, config and script) is not built again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

wt=$(scratch_worktree check-bisect)
am_series "$wt"
out=$CACHE/build/bisect
config=$ROOT/tooling/kconfig/base.config
mkdir -p "$CCACHE_DIR"

tip=$(git -C "$wt" rev-parse HEAD)
# Files that no kernel build reads: a commit touching only these builds as
# its parent did (the series' first commit is always built).
no_kbuild='^(Documentation/.*[^/]\.(rst|txt)|Documentation/ABI/.*|tools/testing/selftests/.*|tools/mp3prof/.*|MAINTAINERS)$'
for c in $(git -C "$wt" rev-list --reverse "pristine..$tip"); do
	subject=$(git -C "$wt" log -1 --format=%s "$c")
	k=$(key "build-m-$(git -C "$wt" rev-parse "$c^{tree}")" "$config")
	if passed "$k"; then
		echo "ok: $subject (this tree built before)"
		continue
	fi
	if [ "$(git -C "$wt" rev-parse "$c^")" != "$(git -C "$wt" rev-parse pristine)" ] &&
		! git -C "$wt" diff --name-only "$c^" "$c" | grep -qvE "$no_kbuild"; then
		echo "ok: $subject (changes no kernel build input)"
		continue
	fi
	git -C "$wt" checkout -q --detach "$c"
	say "building: $subject"
	configure_build "$wt" "$out"
	if [ -f "$wt/drivers/misc/mp3prof/Kconfig" ]; then
		grep -qx 'CONFIG_MP3PROF=m' "$out/.config" || die "$subject: CONFIG_MP3PROF=m not set"
	fi
	make -s -C "$wt" O="$out" "${KMAKE_ARGS[@]}" -j"$(nproc)" bzImage modules ||
		die "build failed at: $subject"
	mark_passed "$k"
	echo "ok: $subject"
done

k=$(key "w1-sparse-$(git -C "$wt" rev-parse "$tip^{tree}")" "$config")
if passed "$k"; then
	echo "W=1 and sparse: no warnings (this tree checked before)"
	exit 0
fi
git -C "$wt" checkout -q --detach "$tip"
say "W=1 C=2 on drivers/misc/mp3prof"
configure_build "$wt" "$out"
log=$(make -s -C "$wt" O="$out" "${KMAKE_ARGS[@]}" W=1 C=2 drivers/misc/mp3prof/ 2>&1)
if grep -E 'warning|error' <<<"$log"; then
	die "W=1 or sparse complained about drivers/misc/mp3prof"
fi
mark_passed "$k"
echo "W=1 and sparse: no warnings"
