# shellcheck shell=bash
# Shared helpers for the static checks; sourced, not executed.
. "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"

# The files the repository contributes to the kernel tree.
kernel_paths=(drivers/misc/mp3prof include/uapi/linux/mp3prof.h
	Documentation/admin-guide/mp3prof.rst Documentation/ABI/testing
	tools/testing/selftests/mp3prof tools/mp3prof)

repo_kernel_files() {
	git -C "$ROOT" ls-files --cached --others --exclude-standard -- "${kernel_paths[@]}" |
		while read -r f; do [ -f "$ROOT/$f" ] && echo "$f"; done
}

# A persistent worktree of the pristine tree, reset to pristine: scratch
# space for checks that apply or build the series commit by commit.
scratch_worktree() { # scratch_worktree NAME -> prints its path
	local pristine wt
	pristine=$("$HARNESS/pristine.sh")
	wt=$CACHE/$1
	if [ ! -e "$wt/.git" ]; then
		git -C "$pristine" worktree prune
		git -C "$pristine" worktree add -q --detach "$wt" pristine >&2
	fi
	git -C "$wt" checkout -q -f --detach pristine
	git -C "$wt" clean -q -fdx
	echo "$wt"
}

# git am the series onto a scratch worktree.
am_series() { # am_series WORKTREE
	local p
	series_patches | while read -r p; do
		git -C "$1" -c user.name=check -c user.email=check@localhost \
			am -q --whitespace=error-all "$PATCHES/$p" || { git -C "$1" am --abort; die "git am $p failed"; }
	done
}

# Configure O=$1 from tinyconfig + base.config + further fragments, keeping
# an existing .config (and so an incremental build) when nothing changed.
configure_build() { # configure_build SRC OUT FRAGMENT...
	local src=$1 out=$2
	shift 2
	mkdir -p "$out"
	[ -f "$out/.config" ] || make -s -C "$src" O="$out" "${KMAKE_ARGS[@]}" tinyconfig >/dev/null
	(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$out" "$out/.config" \
		"$ROOT/tooling/kconfig/base.config" "$@" >/dev/null)
	make -s -C "$src" O="$out" "${KMAKE_ARGS[@]}" olddefconfig >/dev/null
}

# Checks that passed, by a hash of everything they read: a check skips the
# work it has already done successfully on identical input.  Delete the
# directory to redo everything.
PASSED=$CACHE/checks-passed
passed() { [ -e "$PASSED/$1" ]; } # passed KEY
mark_passed() { mkdir -p "$PASSED" && touch "$PASSED/$1"; }
# key PREFIX FILE...: PREFIX plus the hash of the files' contents and of
# the calling check and this file.
key() {
	local prefix=$1
	shift
	echo "$prefix-$(cat "$@" "$0" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-32)"
}
