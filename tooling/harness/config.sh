#!/usr/bin/env bash
# Configure $CACHE/build/VARIANT: tinyconfig + tooling/kconfig fragments
# (release: base; debug: base + debug; preempt: base + debug + preempt;
# bench: base + bench) + the
# selftests' "config" file, then verify that every option the fragments ask
# for really is set (a later fragment's value for a symbol replaces an
# earlier one's, as in merge_config.sh).  Does nothing when neither the
# fragments nor the kernel's Kconfig files changed since the last run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:?usage: config.sh debug|release|preempt}
check_variant "$variant"
src=$(src_dir)
out=$CACHE/build/$variant
frags=("$ROOT/tooling/kconfig/base.config")
case "$variant" in
debug) frags+=("$ROOT/tooling/kconfig/debug.config") ;;
preempt) frags+=("$ROOT/tooling/kconfig/debug.config" "$ROOT/tooling/kconfig/preempt.config") ;;
bench) frags+=("$ROOT/tooling/kconfig/bench.config") ;;
esac
# kselftest convention: the options the tests need, in their "config" file.
ksft_config=$src/tools/testing/selftests/mp3prof/config
[ -f "$ksft_config" ] && frags+=("$ksft_config")
stamp=$out/.mp3prof-config.stamp

hash=$( {
	echo "$src"
	cat "${frags[@]}" "$0"
	find "$src" -name '.git' -prune -o -name 'Kconfig*' -type f -print | sort | xargs cat
	cat "$src"/kernel/configs/tiny*.config "$src"/arch/x86/configs/tiny.config
} | sha256sum | cut -d' ' -f1)

if [ -f "$out/.config" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
	say "config ($variant) unchanged"
	exit 0
fi

say "configuring kernel ($variant) in $out"
mkdir -p "$out"
rm -f "$stamp"
make -s -C "$src" O="$out" "${KMAKE_ARGS[@]}" tinyconfig >/dev/null
(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$out" "$out/.config" "${frags[@]}" >/dev/null)
make -s -C "$src" O="$out" "${KMAKE_ARGS[@]}" olddefconfig >/dev/null

# The options the fragments ask for, one line per symbol: the last
# fragment's value for it (preempt.config's CONFIG_NR_CPUS=4 replaces
# base.config's 2).
requested() {
	awk '/^CONFIG_[A-Za-z0-9_]+=/ { sym = $0; sub(/=.*/, "", sym) }
	/^# CONFIG_[A-Za-z0-9_]+ is not set$/ { sym = $2 }
	sym != "" { if (!(sym in req)) order[++n] = sym; req[sym] = $0; sym = "" }
	END { for (i = 1; i <= n; i++) print req[order[i]] }' "${frags[@]}"
}

# merge_config/olddefconfig silently drop options whose dependencies are not
# met: check every requested value against the final .config.
have_mp3prof=1
if ! grep -rqs '^config MP3PROF$' "$src/drivers/misc"; then
	have_mp3prof=0
	warn "CONFIG_MP3PROF does not exist in $src (series not applied yet?); not checking it"
fi
missing=()
while read -r line; do
	case "$line" in
	CONFIG_MP3PROF=*) [ $have_mp3prof = 1 ] || continue ;;
	esac
	case "$line" in
	CONFIG_*=*) grep -qxF "$line" "$out/.config" || missing+=("$line") ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		grep -q "^$sym=" "$out/.config" && missing+=("$line")
		;;
	esac
done < <(requested)
if [ ${#missing[@]} -gt 0 ]; then
	echo "ERROR: kernel config ($variant) lacks these requested options (unmet dependencies?):" >&2
	printf '    %s\n' "${missing[@]}" >&2
	exit 1
fi
echo "$hash" > "$stamp"
