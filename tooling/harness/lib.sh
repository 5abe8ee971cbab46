# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# Shared settings for the harness scripts; sourced, not executed.
# The only state lives under $CACHE (MP3PROF_CACHE).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${MP3PROF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mp3prof}
TARBALL=${MP3PROF_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
# Quilt-style series file (one patch name per line); the patches live in
# the "patches" directory next to it.  Override to test a private series.
SERIES=${MP3PROF_SERIES:-$ROOT/series}
PATCHES=${MP3PROF_PATCHES:-$(dirname "$SERIES")/patches}
HARNESS=$ROOT/tooling/harness
# Everything is built for x86_64 with the same compiler string every time so
# that kbuild and ccache stay warm.
KMAKE_ARGS=(ARCH=x86_64 "CC=ccache gcc" "HOSTCC=ccache gcc")
export CCACHE_DIR=$CACHE/ccache

say() { echo "==> $*" >&2; }
warn() { echo "WARNING: $*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }

# Source tree to build: $KDIR if given, else the cache worktree.
src_dir() {
	if [ -n "${KDIR:-}" ]; then
		(cd "$KDIR" && pwd)
	else
		echo "$CACHE/linux"
	fi
}

# The build variants (tooling/kconfig: release = base, debug = base + debug,
# preempt = base + debug + preempt, bench = base + bench).
check_variant() {
	case "$1" in
	debug|release|preempt|bench) ;;
	*) die "unknown VARIANT '$1' (use debug, release, preempt or bench)" ;;
	esac
}

# Patch names from the series file, comments and blank lines removed.
series_patches() {
	[ -f "$SERIES" ] || return 0
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$SERIES" | awk '{print $1}'
}

# Who the committed series is from, "Name <email>": the first patch's last
# Signed-off-by (plain text, where its From: may be RFC 2047 encoded).
# Fails if there is no series yet.
series_from() {
	local first
	first=$(series_patches | head -n 1)
	[ -n "$first" ] && [ -f "$PATCHES/$first" ] || return 1
	sed -n -e '/^---$/q' -e 's/^Signed-off-by: //p' "$PATCHES/$first" | tail -n 1 | grep .
}

# One mp3prof run at a time per cache: builds and worktrees in $CACHE are not
# safe to share.  The outermost script takes the lock; the scripts it runs
# inherit it.
if [ -z "${MP3PROF_LOCKED:-}" ]; then
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	if ! flock -n 9; then
		say "waiting for another mp3prof run using $CACHE"
		flock 9
	fi
	export MP3PROF_LOCKED=1
fi
