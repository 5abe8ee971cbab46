#!/usr/bin/env bash
# get_maintainer.pl sends the series to the char-misc maintainers and lists,
# and git send-email accepts it (dry run: nothing is sent).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=${MP3PROF_SRC:-$(src_dir)}
mapfile -t patches < <(series_patches | sed "s|^|$PATCHES/|")
to=$(cd "$src" && scripts/get_maintainer.pl --no-git --no-git-fallback "${patches[@]}")
echo "$to"
for who in "Arnd Bergmann" "Greg Kroah-Hartman" "linux-kernel@vger.kernel.org" "mp3prof@example.org"; do
	grep -q "$who" <<<"$to" || die "get_maintainer.pl does not name $who"
done

say "git send-email --dry-run"
git -C "$src" send-email --dry-run --no-smtp-auth --confirm=never \
	--smtp-server=/bin/true --to=placeholder@example.org \
	"$PATCHES/0000-cover-letter.patch" "${patches[@]}" >/tmp/send-email.$$ 2>&1 ||
	{ cat /tmp/send-email.$$; rm -f /tmp/send-email.$$; die "git send-email --dry-run failed"; }
grep -c '^Dry-OK\|^Result: OK\|Dry-Sent' /tmp/send-email.$$ || true
rm -f /tmp/send-email.$$
echo "git send-email --dry-run: $((${#patches[@]} + 1)) messages accepted"
